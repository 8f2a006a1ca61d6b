package ai.bakery.data.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.bakery.data.example.ShapeScene;
import ai.bakery.data.plan.SpecialTokens;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TextTokenizerTest {

  @Test
  void tinyTokenizerSpecialsAndVocab() throws Exception {
    try (TextTokenizer t = TextTokenizer.tiny()) {
      assertEquals(372, t.vocabSize());
      assertEquals(0, t.addedSpecials());
      assertEquals(new SpecialTokens(368, 369, 370, 371), t.specialTokens());
      assertArrayEquals(new int[] {368}, t.encode("<|im_start|>"));
      assertArrayEquals(new int[] {371}, t.encode("<|vision_end|>"));
      // special tokens are matched whole even inside text, and decode keeps them unless asked not to
      int[] ids = t.encode("<|im_start|>make the circle green<|im_end|>");
      assertEquals(368, ids[0]);
      assertEquals(369, ids[ids.length - 1]);
      assertEquals("make the circle green", t.decode(ids, true));
    }
  }

  @Test
  void roundTripsAnyTextAndCompressesTheExampleCorpus() throws Exception {
    try (TextTokenizer t = TextTokenizer.tiny()) {
      for (String s : List.of("a red circle on a blue background", "What colour is the shape?",
          "héllo wörld, 日本語 ✓ tabs\tand\nnewlines", "")) {
        assertEquals(s, t.decode(t.encode(s), false));
      }
      // learned merges make corpus words single tokens: " background" is one id
      int[] bg = t.encode(" background");
      assertEquals(1, bg.length);
      assertTrue(bg[0] >= 256 && bg[0] < 368);
      // unseen text falls back to bytes: one id per UTF-8 byte for a 3-byte character
      assertEquals(3, t.encode("日").length);
      // no truncation on long input
      String longText = "a red circle ".repeat(400);
      assertEquals(longText, t.decode(t.encode(longText), false));
      assertTrue(t.encode(longText).length >= 1200);
      for (String s : ShapeScene.corpus().subList(0, 50)) {
        assertTrue(t.encode(s).length < s.length(), s);
      }
    }
  }

  @Test
  void addsMissingSpecialsAfterTheLastId() throws Exception {
    ObjectMapper m = new ObjectMapper();
    ObjectNode json;
    try (InputStream in = TextTokenizer.class.getResourceAsStream(TextTokenizer.TINY_RESOURCE)) {
      json = (ObjectNode) m.readTree(in);
    }
    json.putArray("added_tokens").addObject().put("id", 368).put("content", "<|im_end|>").put("special", true)
        .put("single_word", false).put("lstrip", false).put("rstrip", false).put("normalized", false);
    try (TextTokenizer t = TextTokenizer.fromJson(m.writeValueAsBytes(json), "test")) {
      assertEquals(3, t.addedSpecials());
      // <|im_end|> keeps its id; the others are appended in the reference's order
      assertEquals(new SpecialTokens(369, 368, 370, 371), t.specialTokens());
      assertEquals(372, t.vocabSize());
      assertArrayEquals(new int[] {370}, t.encode("<|vision_start|>"));
    }
  }

  @Test
  void bpeTrainerMergesMostFrequentPairsWithDeterministicTies() throws Exception {
    List<String[]> merges = BpeTrainer.train(List.of("aaab", "aaab"), 10);
    assertEquals(List.of("a a", "a b", "aa ab"), merges.stream().map(p -> p[0] + " " + p[1]).toList());
    Map<String, Object> json = BpeTrainer.tokenizerJson(merges);
    try (TextTokenizer t = TextTokenizer.fromJson(new ObjectMapper().writeValueAsBytes(json), "toy")) {
      assertArrayEquals(new int[] {258}, t.encode("aaab"));
      assertArrayEquals(new int[] {256, 'b'}, t.encode("aab"));
      assertEquals(new SpecialTokens(259, 260, 261, 262), t.specialTokens());
    }
  }

  @Test
  void shippedTinyTokenizerIsWhatTheTrainerProduces() throws Exception {
    byte[] shipped;
    try (InputStream in = TextTokenizer.class.getResourceAsStream(TextTokenizer.TINY_RESOURCE)) {
      shipped = in.readAllBytes();
    }
    ObjectMapper m = new ObjectMapper();
    assertEquals(m.readTree(BpeTrainer.tinyTokenizer(500)), m.readTree(shipped),
        "regenerate with: java ai.bakery.data.text.BpeTrainer " + TextTokenizer.TINY_RESOURCE);
  }
}
