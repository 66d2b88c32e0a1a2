package dev.comix.runtime;

import static org.bytedeco.cuda.global.cudart.*;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.cuda.cudart.cudaDeviceProp;

/**
 * The only class that calls the cuda preset before a device is known to answer. Loaded by
 * {@link Backends} after {@code org.bytedeco.cuda.global.cudart} initialised successfully.
 */
final class CudaProbe {
  private CudaProbe() {}

  static Backends.CudaStatus run() {
    int[] v = new int[1];
    String driver = cudaDriverGetVersion(v) == 0 ? CudaOps.formatVersion(v[0]) : "?";
    String runtime = cudaRuntimeGetVersion(v) == 0 ? CudaOps.formatVersion(v[0]) : "?";
    int[] count = new int[1];
    int st = cudaGetDeviceCount(count); // check the status before the count: it is garbage on failure
    if (st != 0) {
      String why = cudaGetErrorString(st).getString();
      cudaGetLastError();
      return new Backends.CudaStatus(false, "cudaGetDeviceCount: " + why, 0, List.of(), driver, runtime);
    }
    if (count[0] <= 0) return new Backends.CudaStatus(false, "no CUDA device found", 0, List.of(), driver, runtime);
    List<String> names = new ArrayList<>();
    for (int i = 0; i < count[0]; i++) {
      try (cudaDeviceProp p = new cudaDeviceProp()) {
        if (cudaGetDeviceProperties(p, i) == 0)
          names.add(String.format("%s (sm_%d%d, %d SMs, %.1f GiB)", p.name().getString(), p.major(), p.minor(),
              p.multiProcessorCount(), p.totalGlobalMem() / 1073741824.0));
        else names.add("(properties unavailable)");
      }
    }
    try {
      Class.forName("dev.comix.jni.ComixCuda", true, CudaProbe.class.getClassLoader());
    } catch (Throwable t) {
      return new Backends.CudaStatus(false, count[0] + " device(s), but libcomix_cuda did not load (built without nvcc?): "
          + Backends.firstLine(t), count[0], names, driver, runtime);
    }
    return new Backends.CudaStatus(true, count[0] + " device(s) answered", count[0], names, driver, runtime);
  }

  static Ops open(int index) {
    return new CudaOps(index);
  }
}
