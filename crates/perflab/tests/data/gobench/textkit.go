// Package textkit is a small text library whose benchmarks make real `go test -bench` output
// for perflab's gate tests. Built with `-tags slow`, three functions do extra work (a real
// slowdown of about 1.5x, 2x and 4x) and one allocates more.
package textkit

import "strings"

// Words splits s on spaces.
func Words(s string) []string {
	w := strings.Fields(s)
	if slow {
		w = strings.Fields(strings.Join(w, " "))
	}
	return w
}

// Upper upper-cases s.
func Upper(s string) string {
	u := strings.ToUpper(s)
	for i := 0; i < slowRepeat; i++ {
		u = strings.ToUpper(s)
	}
	return u
}

// Count counts sep in s.
func Count(s, sep string) int {
	n := strings.Count(s, sep)
	for i := 0; i < 3*slowRepeat; i++ {
		n = strings.Count(s, sep)
	}
	return n
}

// Replace replaces every old by new.
func Replace(s, old, new string) string { return strings.ReplaceAll(s, old, new) }

// Index finds sub in s.
func Index(s, sub string) int { return strings.Index(s, sub) }

// Builder concatenates parts.
func Builder(parts []string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p)
	}
	return b.String()
}

// Repeat repeats s n times.
func Repeat(s string, n int) string { return strings.Repeat(s, n) }
