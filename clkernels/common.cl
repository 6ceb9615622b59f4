/* clkernels/common.cl - precision macros every vitcl kernel is written against.
 *
 * Activations in device memory are always fp32 (the plugin ABI). `real` is the arithmetic type of
 * a kernel's inner work; accumulations and reductions always use `acc_t` (float). The plugin
 * defines VITCL_FP16 in the build options only for devices that report cl_khr_fp16; today it
 * never does, so every kernel computes in fp32.
 *
 * Linear weights (the GEMM kernels' packed W) may be stored in 16 bits (ABI 1.1 precisions bf16
 * and fp16): the build option VITCL_WEIGHT_FP16 or VITCL_WEIGHT_BF16 selects the storage type
 * `wstore_t` and the loads WLOAD (one element as float) and WLOAD16 (16 consecutive elements as
 * float16). fp16 uses vload_half (core OpenCL 1.2: a `half *` may point at storage without
 * cl_khr_fp16); bf16 widens exactly by shifting the 16 bits into the top of a float. Arithmetic
 * stays fp32 either way.
 */
#ifdef VITCL_FP16
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
typedef half real;
#else
typedef float real;
#endif
typedef float acc_t;

/* Reads element i of a float tensor as `real`; writes a `real` back as float. */
#define LOAD(p, i) ((real)((p)[(i)]))
#define STORE(p, i, v) ((p)[(i)] = (float)(v))

#if defined(VITCL_WEIGHT_FP16)
#define wstore_t half
#define WLOAD(p, i) vload_half((i), (p))
#define WLOAD16(i, p) vload_half16((i), (p))
#elif defined(VITCL_WEIGHT_BF16)
#define wstore_t ushort
#define WLOAD(p, i) as_float((uint)(p)[(i)] << 16)
#define WLOAD16(i, p) as_float16(convert_uint16(vload16((i), (p))) << 16)
#else
#define wstore_t float
#define WLOAD(p, i) ((p)[(i)])
#define WLOAD16(i, p) vload16((i), (p))
#endif
