package ai.bakery.runtime.infer;

import ai.bakery.data.example.ShapeScene;
import ai.bakery.data.example.ShapeScene.Palette;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Measures whether a model learned the example dataset's colours: how far a generated picture's centre (the
 * shape) and border (the background) are from the prompted colours, and whether the model's answer to "What
 * colour is the shape?" names the shape's colour first. Used to compare a trained checkpoint with an untrained
 * one.
 */
public final class ColourProbe {
  public static final String QUESTION = "What colour is the shape?";

  private ColourProbe() {}

  /** {@code n} scenes with every shape colour in turn, each on a different background, shapes cycling. */
  public static List<ShapeScene> scenes(int n) {
    Palette[] p = Palette.values();
    ShapeScene.Shape[] shapes = ShapeScene.Shape.values();
    List<ShapeScene> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Palette colour = p[i % p.length];
      Palette background = p[(i + 3 + i / p.length) % p.length];
      if (background == colour) {
        background = p[(i + 4) % p.length];
      }
      out.add(new ShapeScene(shapes[i % shapes.length], colour, background, 0.7));
    }
    return out;
  }

  /** The example's caption for a scene ("a red circle on a blue background"). */
  public static String prompt(ShapeScene s) {
    return s.captions().get("long");
  }

  /** Mean RGB of the middle quarter of the picture (inside every scene's shape at scale 0.7). */
  public static double[] centre(BufferedImage img) {
    int w = img.getWidth();
    int h = img.getHeight();
    return mean(img, w * 3 / 8, h * 3 / 8, w * 5 / 8, h * 5 / 8, false);
  }

  /** Mean RGB of the outer ring, one eighth of the side wide (background in every scene). */
  public static double[] border(BufferedImage img) {
    int w = img.getWidth();
    int h = img.getHeight();
    return mean(img, w / 8, h / 8, w - w / 8, h - h / 8, true);
  }

  private static double[] mean(BufferedImage img, int x0, int y0, int x1, int y1, boolean outside) {
    double[] m = new double[3];
    long n = 0;
    for (int y = 0; y < img.getHeight(); y++) {
      for (int x = 0; x < img.getWidth(); x++) {
        boolean in = x >= x0 && x < x1 && y >= y0 && y < y1;
        if (in == outside) {
          continue;
        }
        int p = img.getRGB(x, y);
        m[0] += (p >> 16) & 0xff;
        m[1] += (p >> 8) & 0xff;
        m[2] += p & 0xff;
        n++;
      }
    }
    for (int i = 0; i < 3; i++) {
      m[i] /= Math.max(1, n);
    }
    return m;
  }

  /** Euclidean RGB distance (0..441) from a mean colour to a palette colour. */
  public static double distance(double[] rgb, Palette p) {
    Color c = p.rgb();
    double dr = rgb[0] - c.getRed();
    double dg = rgb[1] - c.getGreen();
    double db = rgb[2] - c.getBlue();
    return Math.sqrt(dr * dr + dg * dg + db * db);
  }

  /** Mean of the shape's and the background's distance from their prompted colours. */
  public static double sceneDistance(BufferedImage img, ShapeScene s) {
    return (distance(centre(img), s.colour()) + distance(border(img), s.background())) / 2;
  }

  /** The first palette word in an answer, or null when it names none. */
  public static Palette firstColour(String answer) {
    String a = answer.toLowerCase(Locale.ROOT);
    Palette best = null;
    int at = Integer.MAX_VALUE;
    for (Palette p : Palette.values()) {
      int i = a.indexOf(p.word());
      if (i >= 0 && i < at) {
        at = i;
        best = p;
      }
    }
    return best;
  }

  /**
   * How well generated pictures match their prompts' colours.
   *
   * @param meanDistance mean {@link #sceneDistance} of each picture from its own prompt's scene
   * @param otherPromptDistance mean distance of each picture from the other prompts' scenes: a model that ignores
   *     the prompt scores about the same on both
   */
  public record Drawing(double meanDistance, double otherPromptDistance) {
    /** How much closer the pictures are to their own prompt's colours than to the other prompts' (RGB units). */
    public double promptMatch() {
      return otherPromptDistance - meanDistance;
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT, "mean colour distance %.1f (%.1f from the other prompts' colours)",
          meanDistance, otherPromptDistance);
    }
  }

  /** What one model scored. */
  public record Score(Drawing drawing, int namedRight, int asked, List<String> answers) {
    public double meanDistance() {
      return drawing.meanDistance();
    }

    public double chatAccuracy() {
      return asked == 0 ? 0 : (double) namedRight / asked;
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT, "%s, chat named the colour %d of %d", drawing, namedRight, asked);
    }
  }

  /** Generates every scene's caption (seed {@code o.seed() + i} for scene i) and measures the pictures' colours. */
  public static Drawing draw(InferenceModel m, List<ShapeScene> scenes, SamplingOptions o) {
    ImageGenerator gen = new ImageGenerator(m);
    double own = 0;
    double other = 0;
    for (int i = 0; i < scenes.size(); i++) {
      BufferedImage img = gen.generate(prompt(scenes.get(i)), o.withSeed(o.seed() + i));
      own += sceneDistance(img, scenes.get(i));
      double sum = 0;
      for (int j = 0; j < scenes.size(); j++) {
        if (j != i) {
          sum += sceneDistance(img, scenes.get(j));
        }
      }
      other += sum / Math.max(1, scenes.size() - 1);
    }
    return new Drawing(own / scenes.size(), other / scenes.size());
  }

  /** {@link #draw}, then asks about every painted scene ({@code chatImageSize} pixels). */
  public static Score score(InferenceModel m, List<ShapeScene> scenes, SamplingOptions o, int chatImageSize) {
    Drawing drawing = draw(m, scenes, o);
    int right = 0;
    List<String> answers = new ArrayList<>();
    Chat chat = new Chat(m);
    for (ShapeScene s : scenes) {
      String a = chat.answer(ai.bakery.data.example.ShapePainter.paint(s, chatImageSize), QUESTION, chatImageSize, 8);
      answers.add(a);
      if (firstColour(a) == s.colour()) {
        right++;
      }
    }
    return new Score(drawing, right, scenes.size(), answers);
  }
}
