package textkit

import (
	"strings"
	"testing"
)

var text = strings.Repeat("the quick brown fox jumps over the lazy dog ", 64)

func BenchmarkWords(b *testing.B) {
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		Words(text)
	}
}

func BenchmarkUpper(b *testing.B) {
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		Upper(text)
	}
}

func BenchmarkCount(b *testing.B) {
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		Count(text, "o")
	}
}

func BenchmarkReplace(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Replace(text, "fox", "cat")
	}
}

func BenchmarkIndex(b *testing.B) {
	for _, size := range []int{64, 1024} {
		s := text[:size] + "needle"
		b.Run("size-"+itoa(size), func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for i := 0; i < b.N; i++ {
				Index(s, "needle")
			}
		})
	}
}

func BenchmarkBuilder(b *testing.B) {
	parts := strings.Fields(text)
	for i := 0; i < b.N; i++ {
		Builder(parts)
	}
}

func BenchmarkRepeat(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Repeat("ab", 100)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for n > 0 {
		d = append([]byte{byte('0' + n%10)}, d...)
		n /= 10
	}
	return string(d)
}
