/* plugins/opencl/hash.c - SHA-256 for cache keys and entry checksums.
 *
 * Uses OpenSSL's libcrypto (EVP interface): a maintained, widely packaged implementation is
 * preferable to carrying our own. Field hashing prefixes each field with its 64-bit length so
 * that ("ab","c") and ("a","bc") hash differently.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "ocl.h"

struct ocl_hasher {
    EVP_MD_CTX *md;
    int failed;
};

ocl_hasher *ocl_hash_begin(void)
{
    ocl_hasher *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->md = EVP_MD_CTX_new();
    if (!h->md || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(h->md);
        free(h);
        return NULL;
    }
    return h;
}

void ocl_hash_field(ocl_hasher *h, const void *data, size_t len)
{
    if (!h)
        return;
    unsigned char lenbuf[8];
    uint64_t l = (uint64_t)len;
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (unsigned char)(l >> (8 * i));
    if (EVP_DigestUpdate(h->md, lenbuf, sizeof lenbuf) != 1 ||
        (len && EVP_DigestUpdate(h->md, data, len) != 1))
        h->failed = 1;
}

void ocl_hash_str(ocl_hasher *h, const char *s)
{
    ocl_hash_field(h, s ? s : "", s ? strlen(s) : 0);
}

int ocl_hash_end(ocl_hasher *h, unsigned char out[OCL_HASH_LEN])
{
    if (!h)
        return -1;
    unsigned int n = 0;
    int ok = !h->failed && EVP_DigestFinal_ex(h->md, out, &n) == 1 && n == OCL_HASH_LEN;
    EVP_MD_CTX_free(h->md);
    free(h);
    return ok ? 0 : -1;
}

int ocl_sha256(const void *data, size_t len, unsigned char out[OCL_HASH_LEN])
{
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != OCL_HASH_LEN)
        return -1;
    return 0;
}

void ocl_hex(const unsigned char key[OCL_HASH_LEN], char hex[2 * OCL_HASH_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < OCL_HASH_LEN; i++) {
        hex[2 * i] = digits[key[i] >> 4];
        hex[2 * i + 1] = digits[key[i] & 15];
    }
    hex[2 * OCL_HASH_LEN] = '\0';
}
