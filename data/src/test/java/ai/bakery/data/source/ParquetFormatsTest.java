package ai.bakery.data.source;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.sample.SampleItem;
import ai.bakery.data.source.records.ParquetFooter;
import ai.bakery.data.source.records.RecordWriters;
import java.awt.Color;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ParquetFormatsTest {
  @TempDir Path dir;

  static final Schema T2I = new Schema(List.of(
      Field.nullable("image", ArrowType.Binary.INSTANCE),
      Field.nullable("captions", ArrowType.Utf8.INSTANCE)));

  static Schema editSchema() {
    Field imageList = new Field("image_list", FieldType.nullable(ArrowType.List.INSTANCE),
        List.of(Field.nullable("item", ArrowType.Binary.INSTANCE)));
    Field inner = new Field("item", FieldType.nullable(ArrowType.List.INSTANCE),
        List.of(Field.nullable("item", ArrowType.Utf8.INSTANCE)));
    Field instructions = new Field("instruction_list", FieldType.nullable(ArrowType.List.INSTANCE), List.of(inner));
    return new Schema(List.of(imageList, instructions));
  }

  @Test
  void t2iRowGroupsBecomeUnitsAndBadRowsAreCounted() throws Exception {
    Path data = Files.createDirectories(dir.resolve("t2i"));
    byte[] red = TestMedia.png(Color.RED, 20, 10);
    RecordWriters.writeParquet(data.resolve("part-0.parquet"), T2I, List.of(
        List.of(
            new Object[] {red, "{\"short\": \"a red box\", \"long\": \"a red box, wider than tall\"}"},
            new Object[] {new byte[] {1, 2, 3, 4}, "{\"a\": \"corrupt image\"}"},
            new Object[] {red, "{not json"}),
        List.of(
            new Object[] {red, "{}"},
            new Object[] {red, "{\"only\": \"second group\"}"})));
    assertEquals(List.of(3L, 2L), toList(ParquetFooter.rowGroupRows(data.resolve("part-0.parquet"))));

    DatasetSource src = new DatasetSource("t2i", data, null, ReadOptions.DEFAULTS);
    List<ShardUnit> units = DatasetFormats.T2I.units(src);
    assertEquals(2, units.size());
    assertEquals(0, units.get(0).rowGroup());
    assertEquals(3, units.get(0).rowCount());
    assertEquals(2, units.get(1).rowCount());

    SkipCounter skips = new SkipCounter();
    List<PositionedSample> all = TestMedia.readAll(DatasetFormats.T2I, src, skips);
    assertEquals(3, all.size());
    assertEquals(1, skips.count(SkipReason.CORRUPT_IMAGE));
    assertEquals(1, skips.count(SkipReason.MALFORMED_JSON));
    assertEquals(2, skips.total());

    PositionedSample first = all.get(0);
    assertEquals(0, first.row());
    assertEquals("t2i/part-0.parquet#0:0", first.sample().key());
    String caption = ((SampleItem.Text) first.sample().items().get(0)).text();
    assertTrue(caption.equals("a red box") || caption.equals("a red box, wider than tall"), caption);
    assertEquals(List.of("T(" + caption + "|drop)", "I(+target)"), TestMedia.render(first.sample()));
    assertEquals(0xff0000, TestMedia.centerRgb(first.sample().items().get(1)));
    // an empty captions dict becomes one space, as the reference does
    assertEquals(List.of("T( |drop)", "I(+target)"), TestMedia.render(all.get(1).sample()));
    assertEquals(units.get(1), all.get(2).unit());
    assertEquals(1, all.get(2).row());
    assertEquals(List.of("T(second group|drop)", "I(+target)"), TestMedia.render(all.get(2).sample()));

    // the caption choice is a function of (seed, key): reading again picks the same one
    List<PositionedSample> again = TestMedia.readAll(DatasetFormats.T2I, src, new SkipCounter());
    assertEquals(caption, ((SampleItem.Text) again.get(0).sample().items().get(0)).text());
  }

  @Test
  void resumeStartsAtTheGivenRowOfTheUnit() throws Exception {
    Path data = Files.createDirectories(dir.resolve("t2i"));
    byte[] img = TestMedia.png(Color.BLUE, 8, 8);
    List<Object[]> g0 = new java.util.ArrayList<>();
    List<Object[]> g1 = new java.util.ArrayList<>();
    for (int i = 0; i < 5; i++) {
      g0.add(new Object[] {img, "{\"c\": \"g0 row " + i + "\"}"});
      g1.add(new Object[] {img, "{\"c\": \"g1 row " + i + "\"}"});
    }
    RecordWriters.writeParquet(data.resolve("a.parquet"), T2I, List.of(g0, g1));
    DatasetSource src = new DatasetSource("t2i", data, null, ReadOptions.DEFAULTS);
    ShardUnit second = DatasetFormats.T2I.units(src).get(1);
    try (SampleCursor c = DatasetFormats.T2I.open(src, second, 3, new SkipCounter())) {
      PositionedSample s = c.next();
      assertEquals(3, s.row());
      assertEquals("T(g1 row 3|drop)", TestMedia.render(s.sample()).get(0));
      assertEquals("T(g1 row 4|drop)", TestMedia.render(c.next().sample()).get(0));
      assertTrue(!c.hasNext());
    }
  }

  @Test
  void editRowsFollowTheReferencePlan() throws Exception {
    Path data = Files.createDirectories(dir.resolve("edit"));
    byte[] a = TestMedia.png(Color.RED, 16, 16);
    byte[] b = TestMedia.png(Color.GREEN, 16, 16);
    byte[] c = TestMedia.png(Color.BLUE, 16, 16);
    List<Object[]> rows = new java.util.ArrayList<>();
    rows.add(new Object[] {List.of(a, b), List.of(List.of("make it green"))});
    rows.add(new Object[] {List.of(a, new byte[] {9, 9}), List.of(List.of("broken target"))});
    rows.add(new Object[] {List.of(a), List.of()});
    for (int i = 0; i < 40; i++) {
      rows.add(new Object[] {List.of(a, b, c), List.of(List.of("make it green"), List.of("make it blue"))});
    }
    RecordWriters.writeParquet(data.resolve("e.parquet"), editSchema(), List.of(rows));
    DatasetSource src = new DatasetSource("edit", data, null, ReadOptions.DEFAULTS);
    SkipCounter skips = new SkipCounter();
    List<PositionedSample> all = TestMedia.readAll(DatasetFormats.EDIT, src, skips);
    assertEquals(Map.of(SkipReason.CORRUPT_IMAGE, 1L, SkipReason.CORRUPT_ROW, 1L), skips.snapshot());
    assertEquals(41, all.size());

    assertEquals(List.of("I(vit+cond)", "T(make it green|drop)", "I(+target)"), TestMedia.render(all.get(0).sample()));
    assertEquals(0xff0000, TestMedia.centerRgb(all.get(0).sample().items().get(0)));
    assertEquals(0x00ff00, TestMedia.centerRgb(all.get(0).sample().items().get(2)));

    // three-image rows: every allowed span of the reference appears across 40 seeded rows
    Map<List<String>, Integer> seen = new java.util.HashMap<>();
    for (PositionedSample s : all.subList(1, all.size())) {
      seen.merge(TestMedia.render(s.sample()), 1, Integer::sum);
    }
    List<String> step01 = List.of("I(vit+cond)", "T(make it green|drop)", "I(+target)");
    List<String> step12 = List.of("I(vit+cond)", "T(make it blue|drop)", "I(+target)");
    List<String> chain = List.of("I(vit+cond)", "T(make it green|drop)", "I(vit+cond+target)",
        "T(make it blue|drop)", "I(+target)");
    // span 0..2 joined: the reference pulls the end back when it is the last image
    List<String> joined = List.of("I(vit+cond)", "T(make it green.|drop)", "I(+target)");
    assertEquals(java.util.Set.of(step01, step12, chain, joined), seen.keySet());
  }

  @Test
  void rowChoicesDoNotDependOnWhereTheDataLives() throws Exception {
    byte[] a = TestMedia.png(Color.RED, 8, 8);
    List<Object[]> rows = new java.util.ArrayList<>();
    for (int i = 0; i < 30; i++) {
      rows.add(new Object[] {List.of(a, a, a), List.of(List.of("step one"), List.of("step two"))});
    }
    List<List<String>> first = null;
    for (String where : List.of("mount-a/edit", "elsewhere/b/edit")) {
      Path data = Files.createDirectories(dir.resolve(where));
      RecordWriters.writeParquet(data.resolve("e.parquet"), editSchema(), List.of(rows));
      List<List<String>> rendered = new java.util.ArrayList<>();
      for (PositionedSample s : TestMedia.readAll(DatasetFormats.EDIT,
          new DatasetSource("edit", data, null, ReadOptions.DEFAULTS), new SkipCounter())) {
        rendered.add(TestMedia.render(s.sample()));
        rendered.add(List.of(s.sample().key())); // timesteps and CFG dropout are drawn from the key
      }
      if (first == null) {
        first = rendered;
        // the rows are identical, so only the per-row random span makes them differ
        assertTrue(rendered.stream().filter(r -> r.size() > 1).distinct().count() > 1, "spans vary between rows");
        assertEquals(List.of("edit/e.parquet#0:0"), rendered.get(1));
      } else {
        assertEquals(first, rendered, "the same rows draw the same spans in another folder");
      }
    }
  }

  @Test
  void laterRowGroupsAreReadFromASparseSingleGroupCopy() throws Exception {
    Path data = Files.createDirectories(dir.resolve("t2i"));
    byte[][] imgs = {TestMedia.png(Color.RED, 8, 8), TestMedia.png(Color.GREEN, 8, 8), TestMedia.png(Color.BLUE, 8, 8),
        TestMedia.png(Color.BLACK, 8, 8)};
    List<List<Object[]>> groups = new java.util.ArrayList<>();
    for (int g = 0; g < 4; g++) {
      List<Object[]> rows = new java.util.ArrayList<>();
      for (int r = 0; r < 3 + g; r++) {
        // repeated captions make Arrow dictionary-encode the column (dictionary pages come first)
        rows.add(new Object[] {imgs[g], "{\"c\": \"group " + g + "\"}"});
      }
      groups.add(rows);
    }
    Path file = data.resolve("a.parquet");
    RecordWriters.writeParquet(file, T2I, groups);
    ParquetFooter footer = ParquetFooter.read(file);
    assertEquals(List.of(3L, 4L, 5L, 6L), toList(footer.rowGroupRows()));
    Path single = dir.resolve("single.parquet");
    footer.writeSingleGroupFile(2, single);
    assertEquals(List.of(5L), toList(ParquetFooter.rowGroupRows(single)));

    DatasetSource src = new DatasetSource("t2i", data, null, ReadOptions.DEFAULTS);
    List<ShardUnit> units = DatasetFormats.T2I.units(src);
    int[] colours = {0xff0000, 0x00ff00, 0x0000ff, 0x000000};
    long before = tempCopies();
    for (int g = 3; g >= 0; g--) {
      try (SampleCursor c = DatasetFormats.T2I.open(src, units.get(g), 1, new SkipCounter())) {
        int n = 0;
        while (c.hasNext()) {
          PositionedSample s = c.next();
          assertEquals(1 + n, s.row());
          assertEquals("T(group " + g + "|drop)", TestMedia.render(s.sample()).get(0));
          assertEquals(colours[g], TestMedia.centerRgb(s.sample().items().get(1)));
          n++;
        }
        assertEquals(2 + g, n);
      }
    }
    assertEquals(before, tempCopies(), "single-group copies are deleted on close");
  }

  private static long tempCopies() throws java.io.IOException {
    try (var s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      return s.filter(p -> p.getFileName().toString().startsWith("bakery-rowgroup-")).count();
    }
  }

  @Test
  void corruptDataPagesEndTheUnitWithOneCountedSkip() throws Exception {
    Path data = Files.createDirectories(dir.resolve("t2i"));
    byte[] img = TestMedia.png(Color.BLUE, 8, 8);
    List<Object[]> rows = new java.util.ArrayList<>();
    for (int i = 0; i < 6; i++) {
      rows.add(new Object[] {img, "{\"c\": \"row " + i + "\"}"});
    }
    Path file = data.resolve("a.parquet");
    RecordWriters.writeParquet(file, T2I, List.of(rows));
    byte[] bytes = Files.readAllBytes(file);
    for (int i = 4; i < 64; i++) {
      bytes[i] = (byte) 0xA5; // the first column chunk's page header and data; the footer stays intact
    }
    Files.write(file, bytes);
    DatasetSource src = new DatasetSource("t2i", data, null, ReadOptions.DEFAULTS);
    List<ShardUnit> units = DatasetFormats.T2I.units(src);
    assertEquals(6, units.get(0).rowCount());
    SkipCounter skips = new SkipCounter();
    List<PositionedSample> all = TestMedia.readAll(DatasetFormats.T2I, src, skips);
    assertEquals(0, all.size());
    assertEquals(Map.of(SkipReason.CORRUPT_ROW, 1L), skips.snapshot());
  }

  @Test
  void unreadableFooterNamesTheFile() throws Exception {
    Path data = Files.createDirectories(dir.resolve("t2i"));
    Files.write(data.resolve("broken.parquet"), "PAR1 not really a parquet file".getBytes());
    java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
        () -> DatasetFormats.T2I.units(new DatasetSource("t2i", data, null, ReadOptions.DEFAULTS)));
    assertTrue(e.getMessage().contains("broken.parquet"), e.getMessage());
  }

  private static List<Long> toList(long[] a) {
    return java.util.Arrays.stream(a).boxed().toList();
  }
}
