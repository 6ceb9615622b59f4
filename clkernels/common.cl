/* clkernels/common.cl - precision macros every vitcl kernel is written against.
 *
 * Tensors in device memory are always fp32 (the plugin ABI). `real` is the arithmetic type of a
 * kernel's inner work; accumulations and reductions always use `acc_t` (float). The plugin
 * defines VITCL_FP16 in the build options only for devices that report cl_khr_fp16; today it
 * never does, so every kernel computes in fp32.
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
