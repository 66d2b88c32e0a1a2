package dev.comix.runtime;

import static org.junit.jupiter.api.Assertions.*;

import org.bytedeco.javacpp.BytePointer;
import org.junit.jupiter.api.Test;

/** A tensor from another device is refused in Java, before any native call. */
class SupConDeviceCheckTest {
  @Test
  void deviceMismatchIsAClearException() {
    // host memory labelled cuda:0: the check must fire before anything reads it
    BytePointer mem = new BytePointer(24 * 4);
    try (CpuOps ops = new CpuOps(1);
         Tensor onGpu = new Tensor(DType.F32, Device.cuda(0), mem, null, 3, 2, 4);
         Tensor f = Tensor.host(DType.F32, 3, 2, 4);
         Tensor loss = Tensor.host(DType.F64, 1)) {
      ComixException e = assertThrows(ComixException.class,
          () -> ops.supCon(onGpu, null, null, 0.5f, 0.07f, 0, 1f, loss, null));
      assertTrue(e.getMessage().contains("cuda:0") && e.getMessage().contains("cpu"), e.getMessage());
      Pointer0.fill(f);
      e = assertThrows(ComixException.class, () -> ops.supCon(f, null, null, 0.5f, 0.07f, 0, 1f, loss, onGpu));
      assertTrue(e.getMessage().contains("cuda:0"), e.getMessage());
    } finally {
      mem.deallocate();
    }
  }

  static final class Pointer0 {
    static void fill(Tensor t) {
      org.bytedeco.javacpp.Pointer.memset(t.data(), 0, t.byteSize());
    }
  }
}
