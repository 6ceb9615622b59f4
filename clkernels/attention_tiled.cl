/* clkernels/attention_tiled.cl - fused multi-head self-attention for GPU-like devices, in the
 * flash-attention style: a work-group of AT_WG = 64 items takes a block of AT_BQ queries of one
 * (image, head); keys and values pass through local memory in tiles of AT_BK = 32; an online
 * softmax (running maximum and sum per query, accumulators rescaled once per tile) means no
 * S x S matrix is stored and any sequence length works.
 *
 * AT_D (build option) is the head_dim the local tiles are sized for: 64 (every ViT-MSN
 * checkpoint; AT_BQ = 32) or 128 for the general case (any head_dim <= 128, zero-padded;
 * AT_BQ = 16). Per tile: the group writes the K tile, computes the AT_BQ x AT_BK scores (each item
 * AT_BQ * AT_BK / 64 dot products from local memory), items < AT_BQ update their query's maximum
 * and sum and turn the scores into probabilities, the V tile replaces the K tile, and each item
 * updates its output columns d = lid + 64 * c for every query of the block (AT_BQ * AT_D / 64
 * accumulators per item, all indexed by unrolled constants). Local memory: (AT_BQ + AT_BK) *
 * (AT_D + 1) + AT_BQ * (AT_BK + 1) + 3 * AT_BQ floats (21 KB for AT_D = 64, 27 KB for 128).
 *
 * With AT_SUBGROUPS (build option, only where the device reports cl_intel_subgroups or
 * cl_khr_subgroups) the softmax update is shared by the whole group instead of AT_BQ items:
 * each subgroup takes rows qi = sg, sg + subgroups, ..., its items stride over the row's AT_BK
 * scores and sub_group_reduce_max / _add combine them (any subgroup size; each subgroup runs
 * the same rows count, so every item reaches every collective).
 *
 * Index maps follow the op table: q(b,i,h,j) = Q[q_off + (b*seq + i)*ldq + h*head_dim + j],
 * likewise for K, V and O. Launch with local size (64, 1) exactly and global size
 * (ceil(seq / AT_BQ) * 64, batch * heads). Needs common.cl.
 */
#ifndef AT_D
#error "attention_tiled.cl needs -DAT_D=64 or -DAT_D=128"
#endif
#define AT_WG 64
#define AT_BK 32
#if AT_D == 64
#define AT_BQ 32
#elif AT_D == 128
#define AT_BQ 16
#else
#error "AT_D must be 64 or 128"
#endif
#define AT_DC (AT_D / AT_WG)
#if defined(AT_SUBGROUPS) && defined(cl_khr_subgroups) && !defined(cl_intel_subgroups)
#pragma OPENCL EXTENSION cl_khr_subgroups : enable
#endif

__kernel __attribute__((reqd_work_group_size(AT_WG, 1, 1))) void
attention_tiled(__global const float *q, ulong q_off, ulong ldq, __global const float *k,
                ulong k_off, ulong ldk, __global const float *v, ulong v_off, ulong ldv,
                __global float *o, ulong o_off, ulong ldo, ulong seq, uint heads, uint head_dim,
                float scale)
{
    __local float qs[AT_BQ][AT_D + 1];
    __local float kv[AT_BK][AT_D + 1];
    __local float s[AT_BQ][AT_BK + 1];
    __local float row_max[AT_BQ], row_sum[AT_BQ], row_corr[AT_BQ];
    const uint lid = get_local_id(0);
    const size_t q0 = get_group_id(0) * AT_BQ, bh = get_group_id(1);
    const size_t b = bh / heads, col = (bh % heads) * (size_t)head_dim;
    __global const float *kb = k + k_off + b * seq * ldk + col;
    __global const float *vb = v + v_off + b * seq * ldv + col;

    for (uint e = lid; e < AT_BQ * AT_D; e += AT_WG) {
        const uint qi = e / AT_D, d = e % AT_D;
        qs[qi][d] = q0 + qi < seq && d < head_dim
                        ? q[q_off + (b * seq + q0 + qi) * ldq + col + d] * scale
                        : 0.0f;
    }
    if (lid < AT_BQ) {
        row_max[lid] = -INFINITY;
        row_sum[lid] = 0.0f;
    }
    float acc[AT_DC][AT_BQ];
    for (int c = 0; c < AT_DC; c++)
        for (int qi = 0; qi < AT_BQ; qi++)
            acc[c][qi] = 0.0f;

    for (size_t t0 = 0; t0 < seq; t0 += AT_BK) {
        const uint tn = (uint)min((size_t)AT_BK, seq - t0);
        barrier(CLK_LOCAL_MEM_FENCE); /* the previous V tile is no longer read */
        for (uint e = lid; e < AT_BK * AT_D; e += AT_WG) {
            const uint j = e / AT_D, d = e % AT_D;
            kv[j][d] = j < tn && d < head_dim ? kb[(t0 + j) * ldk + d] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (uint e = lid; e < AT_BQ * AT_BK; e += AT_WG) {
            const uint qi = e / AT_BK, j = e % AT_BK;
            float dot = 0.0f;
            for (int d = 0; d < AT_D; d++)
                dot = fma(qs[qi][d], kv[j][d], dot);
            s[qi][j] = j < tn ? dot : -INFINITY;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
#ifdef AT_SUBGROUPS
        {
            const uint sg = get_sub_group_id(), sgn = get_num_sub_groups();
            const uint lane = get_sub_group_local_id(), width = get_sub_group_size();
            for (uint qi = sg; qi < AT_BQ; qi += sgn) {
                const float m_old = row_max[qi]; /* read before the collectives below */
                float m = -INFINITY;
                for (uint j = lane; j < AT_BK; j += width)
                    m = fmax(m, s[qi][j]);
                const float m_new = fmax(m_old, sub_group_reduce_max(m));
                float sum = 0.0f;
                for (uint j = lane; j < AT_BK; j += width) {
                    const float p = exp(s[qi][j] - m_new); /* 0 for keys past seq */
                    s[qi][j] = p;
                    sum += p;
                }
                sum = sub_group_reduce_add(sum);
                if (lane == 0) {
                    const float corr = exp(m_old - m_new); /* 0 on the first tile */
                    row_sum[qi] = row_sum[qi] * corr + sum;
                    row_max[qi] = m_new;
                    row_corr[qi] = corr;
                }
            }
        }
#else
        if (lid < AT_BQ) {
            const float m_old = row_max[lid];
            float m_new = m_old;
            for (int j = 0; j < AT_BK; j++)
                m_new = fmax(m_new, s[lid][j]);
            float sum = 0.0f;
            for (int j = 0; j < AT_BK; j++) {
                const float p = exp(s[lid][j] - m_new); /* 0 for keys past seq */
                s[lid][j] = p;
                sum += p;
            }
            const float corr = exp(m_old - m_new); /* 0 on the first tile (m_old = -inf) */
            row_sum[lid] = row_sum[lid] * corr + sum;
            row_max[lid] = m_new;
            row_corr[lid] = corr;
        }
#endif
        /* The scores are done with K: the V tile may overwrite it while rows are updated. */
        for (uint e = lid; e < AT_BK * AT_D; e += AT_WG) {
            const uint j = e / AT_D, d = e % AT_D;
            kv[j][d] = j < tn && d < head_dim ? vb[(t0 + j) * ldv + d] : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int c = 0; c < AT_DC; c++) {
            const uint d = lid + AT_WG * c;
            for (int qi = 0; qi < AT_BQ; qi++)
                acc[c][qi] *= row_corr[qi];
            for (int j = 0; j < AT_BK; j++) {
                const float vv = kv[j][d];
                for (int qi = 0; qi < AT_BQ; qi++)
                    acc[c][qi] = fma(s[qi][j], vv, acc[c][qi]);
            }
        }
    }
    for (int c = 0; c < AT_DC; c++) {
        const uint d = lid + AT_WG * c;
        if (d >= head_dim)
            continue;
        for (int qi = 0; qi < AT_BQ; qi++)
            if (q0 + qi < seq)
                o[o_off + (b * seq + q0 + qi) * ldo + col + d] = acc[c][qi] / row_sum[qi];
    }
}
