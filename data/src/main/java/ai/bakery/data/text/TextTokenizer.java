package ai.bakery.data.text;

import ai.bakery.data.plan.SpecialTokens;
import ai.bakery.data.plan.TextEncoder;
import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * Text to token ids through Hugging Face tokenizers (DJL's binding), offline from a {@code tokenizer.json}.
 * As the reference does, the four tokens {@code <|im_start|>} (bos), {@code <|im_end|>} (eos),
 * {@code <|vision_start|>} and {@code <|vision_end|>} are added when the tokenizer lacks them (new ids after
 * the last one; the model's embeddings must then grow to {@link #vocabSize()}). Plain {@link #encode} adds no
 * special tokens: the planner places bos / eos / vision markers itself. Thread-safe.
 */
public final class TextTokenizer implements TextEncoder, AutoCloseable {
  /** The tiny tokenizer shipped for the tiny preset (example dataset vocabulary). */
  public static final String TINY_RESOURCE = "/ai/bakery/data/text/tiny-tokenizer.json";

  private final HuggingFaceTokenizer tokenizer;
  private final SpecialTokens specials;
  private final int vocabSize;
  private final int addedSpecials;

  private TextTokenizer(HuggingFaceTokenizer tokenizer, SpecialTokens specials, int vocabSize, int addedSpecials) {
    this.tokenizer = tokenizer;
    this.specials = specials;
    this.vocabSize = vocabSize;
    this.addedSpecials = addedSpecials;
  }

  /** The shipped tiny byte-level BPE tokenizer. */
  public static TextTokenizer tiny() throws IOException {
    try (InputStream in = TextTokenizer.class.getResourceAsStream(TINY_RESOURCE)) {
      if (in == null) {
        throw new IOException("missing class path resource " + TINY_RESOURCE);
      }
      return fromJson(in.readAllBytes(), TINY_RESOURCE);
    }
  }

  /** A model directory's {@code tokenizer.json} (e.g. Qwen2.5 or a BAGEL checkpoint folder). */
  public static TextTokenizer fromModelDir(Path dir) throws IOException {
    Path json = dir.resolve("tokenizer.json");
    if (!Files.isRegularFile(json)) {
      throw new NoSuchFileException(json.toString(), null, "no tokenizer.json in model directory " + dir);
    }
    return fromJson(Files.readAllBytes(json), json.toString());
  }

  /** A tokenizer.json's bytes; {@code where} names it in errors. */
  public static TextTokenizer fromJson(byte[] tokenizerJson, String where) throws IOException {
    ObjectMapper mapper = new ObjectMapper();
    JsonNode parsed;
    try {
      parsed = mapper.readTree(tokenizerJson);
    } catch (IOException e) {
      throw new IOException("malformed tokenizer.json " + where + ": " + e.getMessage(), e);
    }
    if (!(parsed instanceof ObjectNode root) || !root.path("model").path("vocab").isObject()) {
      throw new IOException("tokenizer.json " + where + " has no model.vocab");
    }
    Map<String, Integer> ids = new HashMap<>();
    int maxId = -1;
    for (Iterator<Map.Entry<String, JsonNode>> it = root.path("model").path("vocab").fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      ids.put(e.getKey(), e.getValue().asInt());
      maxId = Math.max(maxId, e.getValue().asInt());
    }
    ArrayNode added = root.has("added_tokens") && root.get("added_tokens").isArray()
        ? (ArrayNode) root.get("added_tokens") : root.putArray("added_tokens");
    for (JsonNode t : added) {
      ids.put(t.path("content").asText(), t.path("id").asInt());
      maxId = Math.max(maxId, t.path("id").asInt());
    }
    int addedNow = 0;
    for (String s : BpeTrainer.SPECIALS) {
      if (!ids.containsKey(s)) {
        int id = ++maxId;
        ObjectNode t = added.addObject();
        t.put("id", id);
        t.put("content", s);
        t.put("single_word", false);
        t.put("lstrip", false);
        t.put("rstrip", false);
        t.put("normalized", false);
        t.put("special", true);
        ids.put(s, id);
        addedNow++;
      }
    }
    Map<String, String> options = new HashMap<>();
    options.put("addSpecialTokens", "false");
    options.put("truncation", "false");
    options.put("padding", "false");
    options.put("modelMaxLength", String.valueOf(Integer.MAX_VALUE));
    HuggingFaceTokenizer tok;
    try {
      tok = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(mapper.writeValueAsBytes(root)), options);
    } catch (IOException | RuntimeException e) {
      throw new IOException("cannot load tokenizer " + where + ": " + e.getMessage(), e);
    }
    SpecialTokens specials = new SpecialTokens(ids.get("<|im_start|>"), ids.get("<|im_end|>"),
        ids.get("<|vision_start|>"), ids.get("<|vision_end|>"));
    return new TextTokenizer(tok, specials, maxId + 1, addedNow);
  }

  /** Token ids of {@code text}, without any special tokens around it. */
  @Override
  public int[] encode(String text) {
    Encoding e = tokenizer.encode(text, false, false);
    long[] ids = e.getIds();
    int[] out = new int[ids.length];
    for (int i = 0; i < ids.length; i++) {
      out[i] = Math.toIntExact(ids[i]);
    }
    return out;
  }

  /** Text of {@code ids}; special tokens kept unless {@code skipSpecial}. */
  public String decode(int[] ids, boolean skipSpecial) {
    long[] l = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      l[i] = ids[i];
    }
    return tokenizer.decode(l, skipSpecial);
  }

  /** Ids of bos ({@code <|im_start|>}), eos ({@code <|im_end|>}), vision start and vision end. */
  public SpecialTokens specialTokens() {
    return specials;
  }

  /** {@code len(tokenizer)}: the embedding rows a model needs (largest id + 1). */
  public int vocabSize() {
    return vocabSize;
  }

  /** How many of the four specials were missing and added (the reference's num_new_tokens). */
  public int addedSpecials() {
    return addedSpecials;
  }

  @Override
  public void close() {
    tokenizer.close();
  }
}
