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
