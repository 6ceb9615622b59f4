/* host/common/escape.c - see escape.h. */
#include "escape.h"

char *vitcl_escape(char *out, size_t cap, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int plain = c >= 0x20 && c < 0x7f && c != '\\';
        size_t need = plain ? 1 : 4;
        if (o + need + 4 > cap) { /* room for "..." and the NUL */
            if (o + 4 <= cap) {
                out[o++] = '.', out[o++] = '.', out[o++] = '.';
            }
            break;
        }
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\', out[o++] = 'x', out[o++] = hex[c >> 4], out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

void vitcl_defuse_controls(char *text)
{
    unsigned char *p = (unsigned char *)text;
    for (; *p; p++) {
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) {
            *p = '?';
        } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            p[0] = '?';
            p[1] = '?';
            p++;
        } else if (*p >= 0x80 && *p <= 0x9f) {
            /* a continuation byte: fine inside a multi-byte sequence; alone it may be a C1
             * control to a terminal in 8-bit mode. Keep it when a lead byte precedes it. */
            unsigned char *q = p;
            while (q > (unsigned char *)text && (q[-1] & 0xc0) == 0x80)
                q--;
            if (q == (unsigned char *)text || q[-1] < 0xc2)
                *p = '?';
        }
    }
}
