package dev.comix.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import org.bytedeco.javacpp.BytePointer;
import org.junit.jupiter.api.Test;

class TensorRefCountTest {
  private static Tensor counted(AtomicInteger releases) {
    BytePointer p = new BytePointer(64);
    return new Tensor(DType.F32, Device.CPU, p, () -> {
      releases.incrementAndGet();
      p.deallocate();
    }, 4, 4);
  }

  @Test
  void lastCloseReleasesOnce() {
    AtomicInteger rel = new AtomicInteger();
    Tensor t = counted(rel);
    assertEquals(1, t.refCount());
    t.retain();
    assertEquals(2, t.refCount());
    t.close();
    assertFalse(t.isClosed());
    assertEquals(0, rel.get());
    t.data(); // still usable by whoever retained it
    t.close();
    assertTrue(t.isClosed());
    assertEquals(1, rel.get());
    t.close(); // idempotent
    assertEquals(1, rel.get());
    assertThrows(IllegalStateException.class, t::retain);
    assertThrows(IllegalStateException.class, t::data);
  }

  @Test
  void retainingAViewKeepsTheStorage() {
    AtomicInteger rel = new AtomicInteger();
    Tensor t = counted(rel);
    Tensor v = t.slice0(1, 3).view(8);
    v.retain();
    t.close(); // the owner lets go; the view's reference keeps the storage
    assertEquals(0, rel.get());
    assertFalse(v.isClosed());
    v.close();
    assertEquals(1, rel.get());
    assertTrue(v.isClosed());
  }

  @Test
  void closingAnUnretainedViewLeavesTheOwnerAlone() {
    AtomicInteger rel = new AtomicInteger();
    Tensor t = counted(rel);
    Tensor v = t.view(16);
    v.close();
    assertTrue(v.isClosed());
    assertFalse(t.isClosed());
    t.close();
    assertEquals(1, rel.get());
  }
}
