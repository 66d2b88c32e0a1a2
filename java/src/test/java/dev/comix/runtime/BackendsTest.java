package dev.comix.runtime;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import org.junit.jupiter.api.Test;

class BackendsTest {
  @Test
  void parsesDevices() {
    assertEquals(Device.CPU, Device.parse("cpu"));
    assertEquals(Device.cuda(0), Device.parse("cuda"));
    assertEquals(Device.cuda(2), Device.parse("CUDA:2"));
    assertThrows(ComixException.class, () -> Device.parse("tpu"));
    assertThrows(ComixException.class, () -> Device.parse("cuda:x"));
  }

  @Test
  void cpuIsAlwaysThere() {
    try (Ops ops = Backends.open("cpu", 1)) {
      assertEquals(Device.CPU, ops.device());
      assertTrue(ops.describe().startsWith("cpu"));
    }
  }

  @Test
  void probeExplainsItself() {
    Backends.CudaStatus st = Backends.cuda();
    assertNotNull(st.reason());
    assertFalse(st.reason().isBlank());
    assertSame(st, Backends.cuda(), "probed once");
    Device auto = Backends.choose(null);
    if (System.getenv("COMIX_DEVICE") == null) assertEquals(st.available() ? Device.cuda(0) : Device.CPU, auto);
  }

  @Test
  void askingForAMissingGpuIsAClearError() {
    assumeFalse(Backends.cuda().available(), "a GPU is present here");
    ComixException e = assertThrows(ComixException.class, () -> Backends.choose("cuda:0"));
    assertTrue(e.getMessage().contains("CUDA is not usable"), e.getMessage());
  }

  @Test
  void allocatorRoundsSizes() {
    assertEquals(512, CudaAllocator.roundUp(1));
    assertEquals(1024, CudaAllocator.roundUp(513));
    assertEquals(1 << 20, CudaAllocator.roundUp(1 << 20));
    assertEquals(2L << 20, CudaAllocator.roundUp((1 << 20) + 1));
    assertEquals(4L << 20, CudaAllocator.roundUp((2L << 20) + 1));
  }

  @Test
  void tensorViewsAndSlices() {
    try (Tensor t = Tensor.hostOf(new byte[] {1, 2, 3, 4, 5, 6}, 3, 2)) {
      assertArrayEquals(new byte[] {3, 4, 5, 6}, t.slice0(1, 3).toBytes());
      assertArrayEquals(new long[] {2, 3}, t.view(2, 3).shape());
      assertThrows(IllegalArgumentException.class, () -> t.view(4, 2));
      assertThrows(IndexOutOfBoundsException.class, () -> t.slice0(2, 4));
    }
  }
}
