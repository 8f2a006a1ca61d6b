package ai.bakery.data.text;

import ai.bakery.data.example.ShapeScene;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A small byte-level BPE trainer (GPT-2 style) that writes a Hugging Face {@code tokenizer.json}. Used to
 * build the tiny tokenizer shipped for the tiny model preset from the example dataset's texts:
 * {@code java ai.bakery.data.text.BpeTrainer data/src/main/resources/ai/bakery/data/text/tiny-tokenizer.json}.
 *
 * <p>Words come from the GPT-2 pre-tokenizer regex over UTF-8 bytes mapped to printable characters; each
 * round merges the most frequent adjacent pair (ties: the lexicographically smallest pair), until the
 * vocabulary is full or no pair occurs twice.
 */
public final class BpeTrainer {
  /** The GPT-2 / Hugging Face ByteLevel pre-tokenizer pattern. */
  static final Pattern PRE_TOKENIZE = Pattern.compile(
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");

  /** The four tokens the BAGEL reference adds, in its order. */
  public static final List<String> SPECIALS =
      List.of("<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>");

  private BpeTrainer() {}

  /** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256 + n. */
  static char[] byteToUnicode() {
    char[] map = new char[256];
    boolean[] printable = new boolean[256];
    for (int b = '!'; b <= '~'; b++) {
      printable[b] = true;
    }
    for (int b = 0xA1; b <= 0xAC; b++) {
      printable[b] = true;
    }
    for (int b = 0xAE; b <= 0xFF; b++) {
      printable[b] = true;
    }
    int n = 0;
    for (int b = 0; b < 256; b++) {
      map[b] = printable[b] ? (char) b : (char) (256 + n++);
    }
    return map;
  }

  /** Learns up to {@code maxMerges} merges from {@code corpus}, in rank order. */
  public static List<String[]> train(List<String> corpus, int maxMerges) {
    char[] b2u = byteToUnicode();
    Map<String, Integer> wordCounts = new TreeMap<>();
    for (String text : corpus) {
      Matcher m = PRE_TOKENIZE.matcher(text);
      while (m.find()) {
        StringBuilder w = new StringBuilder();
        for (byte b : m.group().getBytes(StandardCharsets.UTF_8)) {
          w.append(b2u[b & 0xff]);
        }
        wordCounts.merge(w.toString(), 1, Integer::sum);
      }
    }
    List<List<String>> words = new ArrayList<>();
    List<Integer> counts = new ArrayList<>();
    for (Map.Entry<String, Integer> e : wordCounts.entrySet()) {
      List<String> symbols = new ArrayList<>();
      e.getKey().codePoints().forEach(cp -> symbols.add(new String(Character.toChars(cp))));
      words.add(symbols);
      counts.add(e.getValue());
    }
    List<String[]> merges = new ArrayList<>();
    while (merges.size() < maxMerges) {
      Map<String, Integer> pairs = new HashMap<>();
      for (int i = 0; i < words.size(); i++) {
        List<String> w = words.get(i);
        for (int k = 0; k + 1 < w.size(); k++) {
          pairs.merge(w.get(k) + " " + w.get(k + 1), counts.get(i), Integer::sum);
        }
      }
      String best = null;
      int bestCount = 1;
      for (Map.Entry<String, Integer> e : pairs.entrySet()) {
        int c = e.getValue();
        if (c > bestCount || (c == bestCount && best != null && e.getKey().compareTo(best) < 0)) {
          best = e.getKey();
          bestCount = c;
        }
      }
      if (best == null) {
        break;
      }
      String[] pair = best.split(" ", 2);
      merges.add(pair);
      String joined = pair[0] + pair[1];
      for (List<String> w : words) {
        for (int k = 0; k + 1 < w.size(); k++) {
          if (w.get(k).equals(pair[0]) && w.get(k + 1).equals(pair[1])) {
            w.set(k, joined);
            w.remove(k + 1);
          }
        }
      }
    }
    return merges;
  }

  /** A complete tokenizer.json: 256 byte tokens, the merges' tokens, then the specials as added tokens. */
  public static Map<String, Object> tokenizerJson(List<String[]> merges) {
    char[] b2u = byteToUnicode();
    Map<String, Integer> vocab = new LinkedHashMap<>();
    for (int b = 0; b < 256; b++) {
      vocab.put(String.valueOf(b2u[b]), b);
    }
    List<String> mergeLines = new ArrayList<>();
    for (String[] m : merges) {
      vocab.putIfAbsent(m[0] + m[1], vocab.size());
      mergeLines.add(m[0] + " " + m[1]);
    }
    List<Map<String, Object>> added = new ArrayList<>();
    for (String s : SPECIALS) {
      Map<String, Object> t = new LinkedHashMap<>();
      t.put("id", vocab.size() + added.size());
      t.put("content", s);
      t.put("single_word", false);
      t.put("lstrip", false);
      t.put("rstrip", false);
      t.put("normalized", false);
      t.put("special", true);
      added.add(t);
    }
    Map<String, Object> byteLevel = new LinkedHashMap<>();
    byteLevel.put("type", "ByteLevel");
    byteLevel.put("add_prefix_space", false);
    byteLevel.put("trim_offsets", true);
    byteLevel.put("use_regex", true);
    Map<String, Object> model = new LinkedHashMap<>();
    model.put("type", "BPE");
    model.put("dropout", null);
    model.put("unk_token", null);
    model.put("continuing_subword_prefix", null);
    model.put("end_of_word_suffix", null);
    model.put("fuse_unk", false);
    model.put("byte_fallback", false);
    model.put("ignore_merges", false);
    model.put("vocab", vocab);
    model.put("merges", mergeLines);
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("version", "1.0");
    json.put("truncation", null);
    json.put("padding", null);
    json.put("added_tokens", added);
    json.put("normalizer", null);
    json.put("pre_tokenizer", byteLevel);
    json.put("post_processor", null);
    json.put("decoder", byteLevel);
    json.put("model", model);
    return json;
  }

  /** The tiny tokenizer: merges over the example corpus so that 256 + merges + 4 specials <= maxVocab. */
  public static byte[] tinyTokenizer(int maxVocab) throws IOException {
    List<String[]> merges = train(ShapeScene.corpus(), maxVocab - 256 - SPECIALS.size());
    return new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(tokenizerJson(merges));
  }

  /** Regenerates the tiny tokenizer: {@code BpeTrainer <out.json> [maxVocab=500]}. */
  public static void main(String[] args) throws IOException {
    if (args.length < 1) {
      System.err.println("usage: BpeTrainer <out tokenizer.json> [max vocab, default 500]");
      System.exit(2);
    }
    int maxVocab = args.length > 1 ? Integer.parseInt(args[1]) : 500;
    Files.write(Path.of(args[0]), tinyTokenizer(maxVocab));
  }
}
