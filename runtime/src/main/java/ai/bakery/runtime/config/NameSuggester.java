package ai.bakery.runtime.config;

import java.util.Collection;
import java.util.Optional;

/** Finds the valid name a misspelt one most likely meant (edit distance, case-insensitive). */
public final class NameSuggester {
  private NameSuggester() {}

  /**
   * The nearest of {@code candidates} to {@code name}, if close enough to be a plausible typo: at most a third
   * of the longer name's length (and at least 1) edits away, or one name contains the other.
   */
  public static Optional<String> nearest(String name, Collection<String> candidates) {
    String needle = name.toLowerCase();
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String candidate : candidates) {
      int d = distance(needle, candidate.toLowerCase());
      if (d < bestDistance || (d == bestDistance && best != null && candidate.compareTo(best) < 0)) {
        best = candidate;
        bestDistance = d;
      }
    }
    if (best == null) {
      return Optional.empty();
    }
    int allowed = Math.max(1, Math.max(needle.length(), best.length()) / 3);
    boolean contained = needle.length() >= 3 && best.toLowerCase().contains(needle);
    return bestDistance <= allowed || contained ? Optional.of(best) : Optional.empty();
  }

  /** " (did you mean 'x'?)" or the empty string. */
  public static String hint(String name, Collection<String> candidates) {
    return nearest(name, candidates).map(s -> " (did you mean '" + s + "'?)").orElse("");
  }

  /** Edit distance counting an adjacent transposition as one edit ("trian" is one edit from "train"). */
  static int distance(String a, String b) {
    int[][] d = new int[a.length() + 1][b.length() + 1];
    for (int i = 0; i <= a.length(); i++) {
      d[i][0] = i;
    }
    for (int j = 0; j <= b.length(); j++) {
      d[0][j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        d[i][j] = Math.min(d[i - 1][j - 1] + cost, Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1));
        if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
          d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
    }
    return d[a.length()][b.length()];
  }
}
