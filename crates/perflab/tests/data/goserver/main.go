// A small Go HTTP server for perflab's load tests: /work allocates ten 1 KiB buffers per
// request, /metrics exports the Go runtime's allocation counters in the Prometheus text format
// (the series client_golang exports under the same names), so `perflab load --watch-metrics`
// is tested on a real Go runtime's numbers; net/http/pprof serves its profiles
// (`perflab profile --pprof-url`).
package main

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
)

var sink [][]byte

var block = make([]byte, 64<<10)

// hashHandler spends its time in crypto/sha256's hand-written assembly, whose callers perf's
// frame-pointer stacks lose: pprof must still charge this handler with it.
func hashHandler(w http.ResponseWriter, r *http.Request) {
	var sum [32]byte
	for i := 0; i < 8; i++ {
		sum = sha256.Sum256(append(block[:0:0], block...))
	}
	fmt.Fprintf(w, "%x\n", sum[:4])
}

func main() {
	http.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 10; i++ {
			sink = append(sink[:0], make([]byte, 1024))
		}
		w.Write([]byte("ok\n"))
	})
	http.HandleFunc("/hash", hashHandler)
	// /leak starts a goroutine that never returns: what a goroutine profile diff must show.
	http.HandleFunc("/leak", func(w http.ResponseWriter, r *http.Request) {
		go func() { <-make(chan struct{}) }()
		w.Write([]byte("ok\n"))
	})
	http.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintf(w, "# TYPE go_memstats_mallocs_total counter\ngo_memstats_mallocs_total %d\n", m.Mallocs)
		fmt.Fprintf(w, "# TYPE go_memstats_alloc_bytes_total counter\ngo_memstats_alloc_bytes_total %d\n", m.TotalAlloc)
		fmt.Fprintf(w, "# TYPE go_goroutines gauge\ngo_goroutines %d\n", runtime.NumGoroutine())
	})
	fmt.Println("listening")
	if err := http.ListenAndServe(os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
