/* comix C ABI: shared conventions.
 * Every function returns a status: COMIX_OK (0) or a negative error code; comix_error_string()
 * names it. Sizes are int64_t, pointers are plain, GPU variants take a cudaStream_t as void*. */
#ifndef COMIX_COMMON_H
#define COMIX_COMMON_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define COMIX_OK 0
#define COMIX_ERR_ARGUMENT (-1)      /* bad size, null pointer, out-of-range parameter */
#define COMIX_ERR_OUT_OF_MEMORY (-2) /* host or device allocation failed */
#define COMIX_ERR_CUDA (-3)          /* a CUDA runtime call or launch failed */
#define COMIX_ERR_NO_DEVICE (-4)     /* no usable CUDA device */

/* Output element types used by several ops. */
#define COMIX_DTYPE_F32 0
#define COMIX_DTYPE_BF16 1

/* Human-readable text for a status code; never NULL. */
const char* comix_error_string(int status);

/* Version string of the native library, e.g. "comix 0.1.0". */
const char* comix_cpu_version(void);

#ifdef __cplusplus
}
#endif
#endif
