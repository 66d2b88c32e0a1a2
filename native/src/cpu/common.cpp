#include "comix/common.h"

extern "C" const char* comix_error_string(int status) {
  switch (status) {
    case COMIX_OK: return "ok";
    case COMIX_ERR_ARGUMENT: return "invalid argument";
    case COMIX_ERR_OUT_OF_MEMORY: return "out of memory";
    case COMIX_ERR_CUDA: return "CUDA error";
    case COMIX_ERR_NO_DEVICE: return "no usable CUDA device";
    default: return "unknown error";
  }
}

extern "C" const char* comix_cpu_version(void) { return "comix_cpu " COMIX_VERSION; }
