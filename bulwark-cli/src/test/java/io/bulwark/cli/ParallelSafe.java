package io.bulwark.cli;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;

/**
 * A test class that may share the machine with other modules' tests: `./test` runs it alongside them
 * (its stage 2), because nothing in it is bounded tightly enough in time for a busy machine to break
 * it. The timed failure drills (failover within 10 s, HARD within 5 s, a step at its timeout ±1 s) are
 * not marked: they run alone on the machine (stage 3).
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Tag("parallel")
@interface ParallelSafe {}
