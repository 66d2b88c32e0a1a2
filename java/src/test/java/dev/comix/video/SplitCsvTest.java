package dev.comix.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.comix.runtime.ComixException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SplitCsvTest {
  @TempDir Path tmp;

  @Test
  void plainWithCrlfAndBlankLines() throws IOException {
    Path f = Files.writeString(tmp.resolve("s.csv"), "v_BoxingPunchingBag_g16_c02,5\r\n118847,0\r\n\r\nv_a , 11 \r\n");
    List<SplitCsv.Entry> e = SplitCsv.read(f);
    assertEquals(3, e.size());
    assertEquals(new SplitCsv.Entry(1, "v_BoxingPunchingBag_g16_c02", "v_BoxingPunchingBag_g16_c02", 0, -1, 5), e.get(0));
    assertEquals("118847", e.get(1).name());
    assertEquals("v_a", e.get(2).name());
    assertEquals(11, e.get(2).label());
    assertEquals(4, e.get(2).line());
  }

  @Test
  void epicTable() throws IOException {
    Path f = Files.writeString(tmp.resolve("D1_train.csv"),
        "uid,participant_id,video_id,narration,start_timestamp,stop_timestamp,start_frame,stop_frame,verb,verb_class\n"
            + "12915,P08,P08_01,open fridge,00:00:04.09,00:00:05.84,245,350,open,2\n"
            + "12916,P08,P08_01,\"put milk, cheese\",00:00:05.94,00:00:07.23,356,433,put,1\n");
    List<SplitCsv.Entry> e = SplitCsv.read(f);
    assertEquals(2, e.size());
    assertEquals(new SplitCsv.Entry(2, "P08_01_12915", "P08_01", 245, 350, 2), e.get(0));
    assertEquals(new SplitCsv.Entry(3, "P08_01_12916", "P08_01", 356, 433, 1), e.get(1));
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "a,1\\nb\\nc,2\\n|2|expected",
      "a,1\\nb,x\\n|2|not an integer",
      "a,1\\r\\nb,2,3\\r\\n|2|expected",
      "a,1\\n,2\\n|2|empty",
      "a,1\\n../etc,2\\n|2|plain folder name",
      "a,1\\nb/c,2\\n|2|plain folder name",
      "\"a,1\\n|1|unterminated",
      "video,label\\na,1\\n|1|not an integer"})
  void brokenPlainLineNamesFileAndLine(String text, int line, String why) throws IOException {
    Path f = Files.writeString(tmp.resolve("bad.csv"), unescape(text));
    ComixException e = assertThrows(ComixException.class, () -> SplitCsv.read(f));
    assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("line " + line + ":")
        && e.getMessage().contains(why), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "1,P01_01,10,20\\n2,P01_01,x,20\\n|3|not an integer",
      "1,P01_01,10,20\\n2,P01_01,30,20\\n|3|empty",
      "1,P01_01,10,20\\n2,P01_01,30\\n|3|expected 4 fields",
      "1,P01_01,-1,20\\n|2|negative"})
  void brokenEpicLineNamesFileAndLine(String rows, int line, String why) throws IOException {
    Path f = Files.writeString(tmp.resolve("D9.csv"), "uid,video_id,start_frame,stop_frame\n" + unescape(rows));
    ComixException e = assertThrows(ComixException.class, () -> SplitCsv.read(f));
    assertTrue(e.getMessage().contains("line " + line + ":") && e.getMessage().contains(why), e.getMessage());
  }

  private static String unescape(String s) {
    return s.replace("\\n", "\n").replace("\\r", "\r");
  }

  @Test
  void emptyOrMissingOrBinaryFiles() throws IOException {
    assertThrows(ComixException.class, () -> SplitCsv.read(Files.writeString(tmp.resolve("e.csv"), "\n\n")));
    assertThrows(ComixException.class, () -> SplitCsv.read(tmp.resolve("missing.csv")));
    assertThrows(ComixException.class, () -> SplitCsv.read(Files.write(tmp.resolve("b.csv"), new byte[] {(byte) 0xff, 0, 1})));
  }

  /** Every split file of the original code parses, with the sizes COMIX-SPEC section 6 lists. */
  @ParameterizedTest
  @CsvSource({"ucf101_train_hmdb_ucf.csv, 1438", "ucf101_val_hmdb_ucf.csv, 571", "hmdb51_train_hmdb_ucf.csv, 840",
      "hmdb51_val_hmdb_ucf.csv, 360", "jester_source_train.csv, 45899", "jester_target_val.csv, 5588",
      "D1_train.csv, 1543", "D1_test.csv, 435", "D2_train.csv, 2495", "D3_test.csv, 974"})
  void originalSplitFiles(String name, int rows) {
    Path f = TestVideos.sharedData().resolve("comix_splits").resolve(name);
    assumeTrue(Files.isRegularFile(f), f + " is absent");
    List<SplitCsv.Entry> e = SplitCsv.read(f);
    assertEquals(rows, e.size());
    if (name.startsWith("D")) assertTrue(e.get(0).name().startsWith(e.get(0).folder() + "_"), e.get(0).toString());
    for (SplitCsv.Entry x : e) assertTrue(x.label() >= 0 && x.label() < 12, x.toString());
  }
}
