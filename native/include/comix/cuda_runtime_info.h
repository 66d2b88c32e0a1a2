/* Small facts about the CUDA side of comix, for `comix info` and the backend probe. */
#ifndef COMIX_CUDA_RUNTIME_INFO_H
#define COMIX_CUDA_RUNTIME_INFO_H
#include "comix/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Version string of comix_cuda, naming the architectures it was built for. */
const char* comix_cuda_version(void);
/* CUDA runtime version comix_cuda runs against (e.g. 13000), or a negative status. */
int comix_cuda_runtime_version(void);

#ifdef __cplusplus
}
#endif
#endif
