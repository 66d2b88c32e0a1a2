package dev.comix.nn.gpu;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/** Which convs {@link GemmConv3d} takes, and how it splits a clip's rows; no GPU needed. */
class GemmConv3dRulesTest {
  static final int[] K7 = {7, 7, 7}, K3 = {3, 3, 3}, K1 = {1, 1, 1}, P0 = {0, 0, 0}, P1 = {1, 1, 1};

  @Test
  void takesStrictF32NdhwcConvsWithFewChannelsOnAPaddedInput() {
    assertTrue(GemmConv3d.eligible(ConvPrecision.F32, ConvLayout.NDHWC, 3, K7, P0, true));  // Conv3d_1a
    assertTrue(GemmConv3d.eligible(ConvPrecision.F32, ConvLayout.NDHWC, 4, K7, P0, true));  // padded to 4 channels
    assertTrue(GemmConv3d.eligible(ConvPrecision.F32, ConvLayout.NDHWC, 2, K3, P0, true));
    assertFalse(GemmConv3d.eligible(ConvPrecision.TF32, ConvLayout.NDHWC, 3, K7, P0, true));
    assertFalse(GemmConv3d.eligible(ConvPrecision.BF16, ConvLayout.NDHWC, 3, K7, P0, true));
    assertFalse(GemmConv3d.eligible(ConvPrecision.F32, ConvLayout.NCDHW, 3, K7, P0, true));
    assertFalse(GemmConv3d.eligible(ConvPrecision.F32, ConvLayout.NDHWC, 5, K7, P0, true));  // many channels: cuDNN
    assertFalse(GemmConv3d.eligible(ConvPrecision.F32, ConvLayout.NDHWC, 3, K7, P1, true));  // padding: cuDNN
    assertFalse(GemmConv3d.eligible(ConvPrecision.F32, ConvLayout.NDHWC, 3, K1, P0, true));  // 1x1x1: cuDNN
    assertFalse(GemmConv3d.eligible(ConvPrecision.F32, ConvLayout.NDHWC, 4, new int[] {17, 9, 9}, P0, true));  // K > 4096
    assertFalse(GemmConv3d.eligible(ConvPrecision.F32, ConvLayout.NDHWC, 3, new int[] {7, 7}, P0, true));
  }

  @Test
  void splitsAClipsRowsEvenly() {
    assertEquals(16, GemmConv3d.slicesPerClip(4 * 112 * 112, 64));  // Conv3d_1a at 8 x 224 x 224: 50176 rows
    assertEquals(1, GemmConv3d.slicesPerClip(2 * 4 * 3, 8));         // too few rows to split
    assertEquals(2, GemmConv3d.slicesPerClip(2 * 3 * 5 * 7 * 3, 8));
    assertEquals(1, GemmConv3d.slicesPerClip(1000003, 8));           // odd
    // slices never shorter than Cout rows: the partial filters stay smaller than the window rows
    assertEquals(4, GemmConv3d.slicesPerClip(2048, 512));
    assertEquals(1, GemmConv3d.slicesPerClip(2048, 4096));
  }
}
