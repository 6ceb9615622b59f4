/* clkernels/attention.cl - fused multi-head self-attention with an online (flash-style) softmax.
 *
 * One work-item per (query i, image b * heads + head h): global size (>= seq, batch * heads).
 * Keys are visited in blocks of ATT_BLOCK: the block's scores are computed, the running maximum
 * m and sum l are updated and the accumulator rescaled once per block, so no S x S matrix is ever
 * stored and any sequence length works. head_dim must not exceed MAX_HEAD_DIM (the plugin checks
 * it). Index maps follow the op table: q(b,i,h,j) = Q[q_off + (b*seq + i)*ldq + h*head_dim + j],
 * likewise for K, V and O. Needs common.cl.
 */
#ifndef MAX_HEAD_DIM
#define MAX_HEAD_DIM 128
#endif
#define ATT_BLOCK 16

__kernel void attention(__global const float *q, ulong q_off, ulong ldq, __global const float *k,
                        ulong k_off, ulong ldk, __global const float *v, ulong v_off, ulong ldv,
                        __global float *o, ulong o_off, ulong ldo, ulong seq, uint heads,
                        uint head_dim, float scale)
{
    const size_t i = get_global_id(0);
    const size_t bh = get_global_id(1);
    if (i >= seq)
        return;
    const size_t b = bh / heads, h = bh % heads;
    const size_t col = h * (size_t)head_dim;

    __global const float *qr = q + q_off + (b * seq + i) * ldq + col;
    __global const float *kb = k + k_off + b * seq * ldk + col;
    __global const float *vb = v + v_off + b * seq * ldv + col;

    acc_t qv[MAX_HEAD_DIM], acc[MAX_HEAD_DIM];
    for (uint d = 0; d < head_dim; d++) {
        qv[d] = qr[d] * scale;
        acc[d] = 0.0f;
    }
    acc_t m = -INFINITY, l = 0.0f;

    for (size_t t0 = 0; t0 < seq; t0 += ATT_BLOCK) {
        const uint tn = (uint)min((size_t)ATT_BLOCK, seq - t0);
        acc_t s[ATT_BLOCK];
        acc_t bm = -INFINITY;
        for (uint tt = 0; tt < tn; tt++) {
            __global const float *kr = kb + (t0 + tt) * ldk;
            acc_t dot = 0.0f;
            for (uint d = 0; d < head_dim; d++)
                dot += qv[d] * kr[d];
            s[tt] = dot;
            bm = fmax(bm, dot);
        }
        const acc_t m_new = fmax(m, bm);
        const acc_t corr = exp(m - m_new); /* 0 on the first block (m = -inf) */
        l *= corr;
        for (uint d = 0; d < head_dim; d++)
            acc[d] *= corr;
        for (uint tt = 0; tt < tn; tt++) {
            const acc_t p = exp(s[tt] - m_new);
            __global const float *vr = vb + (t0 + tt) * ldv;
            l += p;
            for (uint d = 0; d < head_dim; d++)
                acc[d] += p * vr[d];
        }
        m = m_new;
    }

    const acc_t inv = 1.0f / l;
    __global float *orow = o + o_off + (b * seq + i) * ldo + col;
    for (uint d = 0; d < head_dim; d++)
        orow[d] = acc[d] * inv;
}

/* ---- Fast path for head_dim == 64 (every ViT-MSN checkpoint), written for CPU-like devices.
 *
 * attention_kt first writes K^T per (image, head): kt[bh][d][t] for t < seq_pad (a multiple of
 * 16, zero padded), so both products become broadcast-times-vector FMAs on float16 registers:
 * scores of 16 keys = sum_d q[d] * kt[d][t..t+16], and acc[d..] += p[t] * v[t][d..]. Each
 * work-item of attention64 takes ATT_QB queries of one (image, head) and streams over blocks of
 * 16 keys with the same online softmax as above; padded keys get a score of -inf. No local
 * memory, no private arrays indexed at run time (only lane extracts), so PoCL keeps the state
 * in vector registers. */
#define ATT_QB 4

__kernel void attention_kt(__global const float *k, ulong k_off, ulong ldk, __global float *kt,
                           ulong seq, ulong seq_pad, uint heads)
{
    const size_t t = get_global_id(0), d = get_global_id(1), bh = get_global_id(2);
    if (t >= seq_pad)
        return;
    const size_t b = bh / heads, h = bh % heads;
    kt[(bh * 64 + d) * seq_pad + t] = t < seq ? k[k_off + (b * seq + t) * ldk + h * 64 + d] : 0.0f;
}

__kernel void attention64(__global const float *q, ulong q_off, ulong ldq, __global const float *kt,
                          __global const float *v, ulong v_off, ulong ldv, __global float *o,
                          ulong o_off, ulong ldo, ulong seq, ulong seq_pad, uint heads,
                          float scale)
{
    const size_t i0 = get_global_id(0) * ATT_QB;
    const size_t bh = get_global_id(1);
    if (i0 >= seq)
        return;
    const size_t b = bh / heads, h = bh % heads;
    __global const float *kb = kt + bh * 64 * seq_pad;
    __global const float *vb = v + v_off + b * seq * ldv + h * 64;
#define ATT_Q(r) __global const float *q##r = q + q_off + (b * seq + min(i0 + r, seq - 1)) * ldq + h * 64;
#define ATT_STATE(r) float16 a##r##0 = 0.0f, a##r##1 = 0.0f, a##r##2 = 0.0f, a##r##3 = 0.0f; \
    float m##r = -INFINITY, l##r = 0.0f;
#define ATT_ALL(X) X(0) X(1) X(2) X(3)
    ATT_ALL(ATT_Q)
    ATT_ALL(ATT_STATE)
    const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (size_t t0 = 0; t0 < seq; t0 += 16) {
        float16 s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        for (uint d = 0; d < 64; d++) {
            const float16 kv = vload16(0, kb + d * seq_pad + t0);
            s0 = fma((float16)(q0[d]), kv, s0);
            s1 = fma((float16)(q1[d]), kv, s1);
            s2 = fma((float16)(q2[d]), kv, s2);
            s3 = fma((float16)(q3[d]), kv, s3);
        }
        const int16 valid = (lane + (int)t0) < (int)seq;
        const uint tn = (uint)min((size_t)16, seq - t0);
#define ATT_SOFT(r) \
        s##r = select((float16)(-INFINITY), s##r * scale, valid); \
        float16 p##r; \
        { \
            float8 h8 = fmax(s##r.lo, s##r.hi); \
            float4 h4 = fmax(h8.lo, h8.hi); \
            float2 h2 = fmax(h4.lo, h4.hi); \
            const float mn = fmax(m##r, fmax(h2.lo, h2.hi)); \
            const float corr = exp(m##r - mn); \
            p##r = exp(s##r - mn); \
            float8 e8 = p##r.lo + p##r.hi; \
            float4 e4 = e8.lo + e8.hi; \
            float2 e2 = e4.lo + e4.hi; \
            l##r = l##r * corr + e2.lo + e2.hi; \
            a##r##0 *= corr; a##r##1 *= corr; a##r##2 *= corr; a##r##3 *= corr; \
            m##r = mn; \
        }
        ATT_ALL(ATT_SOFT)
        float pt0[16], pt1[16], pt2[16], pt3[16];
        vstore16(p0, 0, pt0);
        vstore16(p1, 0, pt1);
        vstore16(p2, 0, pt2);
        vstore16(p3, 0, pt3);
        for (uint tt = 0; tt < tn; tt++) {
            __global const float *vr = vb + (t0 + tt) * ldv;
            const float16 v0 = vload16(0, vr), v1 = vload16(1, vr), v2 = vload16(2, vr),
                          v3 = vload16(3, vr);
#define ATT_PV(r) \
            { \
                const float16 pb = (float16)(pt##r[tt]); \
                a##r##0 = fma(pb, v0, a##r##0); a##r##1 = fma(pb, v1, a##r##1); \
                a##r##2 = fma(pb, v2, a##r##2); a##r##3 = fma(pb, v3, a##r##3); \
            }
            ATT_ALL(ATT_PV)
        }
    }
#define ATT_OUT(r) \
    if (i0 + r < seq) { \
        __global float *orow = o + o_off + (b * seq + i0 + r) * ldo + h * 64; \
        const float inv = 1.0f / l##r; \
        vstore16(a##r##0 * inv, 0, orow); vstore16(a##r##1 * inv, 1, orow); \
        vstore16(a##r##2 * inv, 2, orow); vstore16(a##r##3 * inv, 3, orow); \
    }
    ATT_ALL(ATT_OUT)
}
