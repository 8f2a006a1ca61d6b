package ai.bakery.runtime.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class NameSuggesterTest {
  @Test
  void distanceCountsInsertDeleteSubstituteAndTransposition() {
    assertEquals(0, NameSuggester.distance("lr", "lr"));
    assertEquals(1, NameSuggester.distance("learing_rate", "learning_rate"));
    assertEquals(1, NameSuggester.distance("trian", "train"));
    assertEquals(1, NameSuggester.distance("beta1", "beta2"));
    assertEquals(3, NameSuggester.distance("kitten", "sitting"));
    assertEquals(3, NameSuggester.distance("", "abc"));
  }

  @Test
  void suggestsOnlyPlausibleTypos() {
    List<String> names = List.of("lr", "min_lr", "learning_rate", "warmup_steps");
    assertEquals(Optional.of("learning_rate"), NameSuggester.nearest("learing_rate", names));
    assertEquals(Optional.of("warmup_steps"), NameSuggester.nearest("WARMUP_STEP", names));
    assertEquals(Optional.empty(), NameSuggester.nearest("completely_else", names));
    assertEquals(" (did you mean 'lr'?)", NameSuggester.hint("lrr", names));
    assertEquals("", NameSuggester.hint("zzzzzz", names));
  }
}
