package dev.comix.io;

import static org.junit.jupiter.api.Assertions.*;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;
import dev.comix.runtime.Tensor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyTest {
  @TempDir Path dir;

  @Test
  void roundTripsEveryWritableDtype() {
    for (DType t : new DType[] {DType.F32, DType.F64, DType.I32, DType.I64, DType.U8}) {
      try (Tensor x = Tensor.host(t, 3, 1, 5)) {
        byte[] b = new byte[(int) x.byteSize()];
        for (int i = 0; i < b.length; i++) b[i] = (byte) (i * 7 + 1);
        x.data().put(b, 0, b.length);
        Path p = dir.resolve(t + ".npy");
        Npy.write(p, x);
        try (Tensor y = Npy.read(p)) {
          assertEquals(t, y.dtype());
          assertArrayEquals(x.shape(), y.shape());
          assertArrayEquals(b, y.toBytes());
        }
      }
    }
    try (Tensor x = Tensor.host(DType.F32, 4)) {  // 1-d shape "(4,)"
      Npy.write(dir.resolve("v.npy"), x);
      try (Tensor y = Npy.read(dir.resolve("v.npy"))) {
        assertArrayEquals(new long[] {4}, y.shape());
      }
    }
  }

  private Path raw(String header, int dataBytes) throws Exception {
    String h = header + " ".repeat((64 - (10 + header.length() + 1) % 64) % 64) + "\n";
    byte[] hb = h.getBytes(StandardCharsets.ISO_8859_1);
    byte[] all = new byte[10 + hb.length + dataBytes];
    byte[] magic = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (byte) hb.length, (byte) (hb.length >> 8)};
    System.arraycopy(magic, 0, all, 0, 10);
    System.arraycopy(hb, 0, all, 10, hb.length);
    Path p = Files.createTempFile(dir, "x", ".npy");
    Files.write(p, all);
    return p;
  }

  @Test
  void readsBoolAsU8AndRefusesWhatItCannotRead() throws Exception {
    try (Tensor t = Npy.read(raw("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", 3))) {
      assertEquals(DType.U8, t.dtype());
    }
    String[][] bad = {
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", "Fortran"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", "big-endian"},
        {"{'descr': '<c16', 'fortran_order': False, 'shape': (2,), }", "unsupported dtype"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (20,), }", "truncated data"},
    };
    for (String[] b : bad) {
      Path p = raw(b[0], 16);
      ComixException e = assertThrows(ComixException.class, () -> Npy.read(p));
      assertTrue(e.getMessage().contains(b[1]), Arrays.toString(b) + " -> " + e.getMessage());
    }
    Path junk = dir.resolve("junk.npy");
    Files.writeString(junk, "not numpy at all");
    assertThrows(ComixException.class, () -> Npy.read(junk));
  }
}
