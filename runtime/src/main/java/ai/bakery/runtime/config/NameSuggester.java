package ai.bakery.runtime.config;

import java.util.Collection;
import java.util.Optional;

/** Finds the valid name a misspelt one most likely meant (Levenshtein distance, case-insensitive). */
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

  static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int substitute = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(substitute, Math.min(prev[j] + 1, cur[j - 1] + 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
