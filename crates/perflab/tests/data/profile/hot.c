/* A program whose hottest function is known: hot_loop takes ~90% of the CPU, cold_loop ~10%. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) double hot_loop(long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += i * 0.5 / (i + 1);
    return s;
}

__attribute__((noinline)) double cold_loop(long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += i * 0.5 / (i + 3);
    return s;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000000;
    if (argc > 2 && argv[2][0] == 'c') abort(); /* crash on request */
    if (argc > 2 && argv[2][0] == 'm') { /* touch 64 MiB on request: a known peak RSS */
        char *big = malloc(64 << 20);
        for (long i = 0; i < (64 << 20); i += 4096) big[i] = 1;
        if (big[4096] != 1) return 3;
    }
    printf("%f\n", hot_loop(n) + cold_loop(n / 9));
    return 0;
}
