package ai.bakery.data.example;

import java.awt.Color;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * One procedurally drawn picture of the example dataset: a coloured shape centred on a coloured background,
 * and every text that truthfully describes it (captions, edit instructions, questions and answers).
 *
 * @param shape what is drawn
 * @param colour the shape's colour
 * @param background the background's colour (never the shape's)
 * @param scale the shape's size as a fraction of the image side, in [0.45, 0.75]
 */
public record ShapeScene(Shape shape, Palette colour, Palette background, double scale) {

  /** The drawable shapes. */
  public enum Shape {
    CIRCLE, SQUARE, TRIANGLE;

    public String word() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** Eight named colours, far apart so a tiny model (and a pixel test) can tell them apart. */
  public enum Palette {
    RED(220, 30, 30), GREEN(30, 170, 60), BLUE(40, 70, 220), YELLOW(240, 220, 40),
    PURPLE(140, 50, 170), ORANGE(245, 140, 20), WHITE(245, 245, 245), BLACK(15, 15, 15);

    private final Color rgb;

    Palette(int r, int g, int b) {
      this.rgb = new Color(r, g, b);
    }

    public Color rgb() {
      return rgb;
    }

    public String word() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The palette colour nearest to an RGB value. */
    public static Palette nearest(int rgb) {
      Palette best = null;
      long bestD = Long.MAX_VALUE;
      for (Palette p : values()) {
        long dr = ((rgb >> 16) & 0xff) - p.rgb.getRed();
        long dg = ((rgb >> 8) & 0xff) - p.rgb.getGreen();
        long db = (rgb & 0xff) - p.rgb.getBlue();
        long d = dr * dr + dg * dg + db * db;
        if (d < bestD) {
          bestD = d;
          best = p;
        }
      }
      return best;
    }
  }

  /** A random scene. */
  public static ShapeScene random(SplittableRandom rng) {
    Shape shape = Shape.values()[rng.nextInt(Shape.values().length)];
    Palette colour = Palette.values()[rng.nextInt(Palette.values().length)];
    return new ShapeScene(shape, colour, otherThan(rng, colour), 0.45 + 0.3 * rng.nextDouble());
  }

  static Palette otherThan(SplittableRandom rng, Palette... not) {
    while (true) {
      Palette p = Palette.values()[rng.nextInt(Palette.values().length)];
      if (!List.of(not).contains(p)) {
        return p;
      }
    }
  }

  /** Named captions, as a T2I row's {@code captions} JSON holds them. */
  public Map<String, String> captions() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("short", "a " + colour.word() + " " + shape.word());
    m.put("long", "a " + colour.word() + " " + shape.word() + " on a " + background.word() + " background");
    m.put("plain", "a picture of a " + colour.word() + " " + shape.word() + " on " + background.word());
    return m;
  }

  /** This scene with the shape recoloured. */
  public ShapeScene withColour(Palette c) {
    return new ShapeScene(shape, c, background, scale);
  }

  /** This scene with another background. */
  public ShapeScene withBackground(Palette b) {
    return new ShapeScene(shape, colour, b, scale);
  }

  /** This scene with another shape. */
  public ShapeScene withShape(Shape s) {
    return new ShapeScene(s, colour, background, scale);
  }

  /** Instructions that turn {@code this} into {@code after} (which differs in exactly one attribute). */
  public List<String> instructionsTo(ShapeScene after) {
    List<String> out = new ArrayList<>();
    String s = shape.word();
    if (after.colour != colour) {
      String c = after.colour.word();
      out.add("make the " + s + " " + c);
      out.add("change the colour of the " + s + " to " + c);
      out.add("turn the " + s + " " + c);
    } else if (after.background != background) {
      String b = after.background.word();
      out.add("make the background " + b);
      out.add("change the background to " + b);
    } else if (after.shape != shape) {
      String t = after.shape.word();
      out.add("turn the " + s + " into a " + t);
      out.add("replace the " + s + " with a " + t);
    } else {
      throw new IllegalArgumentException("scenes do not differ: " + this);
    }
    return out;
  }

  /** Question and answer pairs about this scene. */
  public List<String[]> questions() {
    return List.of(
        new String[] {"What colour is the shape?", "The shape is " + colour.word() + "."},
        new String[] {"What shape is this?", "It is a " + shape.word() + "."},
        new String[] {"What colour is the background?", "The background is " + background.word() + "."},
        new String[] {"Describe the image.",
            "A " + colour.word() + " " + shape.word() + " on a " + background.word() + " background."});
  }

  /** Every text any scene can produce: the corpus the tiny tokenizer is trained on. */
  public static List<String> corpus() {
    List<String> out = new ArrayList<>();
    for (Shape s : Shape.values()) {
      for (Palette c : Palette.values()) {
        for (Palette b : Palette.values()) {
          if (b == c) {
            continue;
          }
          ShapeScene scene = new ShapeScene(s, c, b, 0.6);
          out.addAll(scene.captions().values());
          for (String[] qa : scene.questions()) {
            out.add(qa[0]);
            out.add(qa[1]);
          }
          for (Palette c2 : Palette.values()) {
            if (c2 != c && c2 != b) {
              out.addAll(scene.instructionsTo(scene.withColour(c2)));
            }
          }
          for (Palette b2 : Palette.values()) {
            if (b2 != c && b2 != b) {
              out.addAll(scene.instructionsTo(scene.withBackground(b2)));
            }
          }
          for (Shape s2 : Shape.values()) {
            if (s2 != s) {
              out.addAll(scene.instructionsTo(scene.withShape(s2)));
            }
          }
        }
      }
    }
    return out;
  }
}
