/* A program with a known allocation profile: big_site allocates 1000 temporary 4 KiB blocks
 * (the top site by bytes and by count), small_site leaks exactly 7 blocks of 16 bytes. */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) char *big_site(int i) { char *p = malloc(4096); memset(p, i, 4096); return p; }
__attribute__((noinline)) char *small_site(int i) { char *p = malloc(16); p[0] = (char)i; return p; }

int main(void) {
    long s = 0;
    for (int i = 0; i < 1000; i++) { char *p = big_site(i); s += p[5]; free(p); }
    for (int i = 0; i < 7; i++) { char *q = small_site(i); s += q[0]; }
    return s == 12345;
}
