package sffn.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import sffn.nn.config.ConfigException;
import sffn.nn.config.JsonFields;

/**
 * What {@code trainer_state.json} records so that a resumed run continues exactly: the next
 * step, the data position, the guide-switch generator, and the running totals.
 *
 * @param step          optimizer steps done (the next step's index)
 * @param tokens        training tokens consumed
 * @param flops         training FLOPs spent, guide included
 * @param loaderEpoch   the train loader's epoch
 * @param loaderPosition the train loader's position in that epoch
 * @param rngState      state of the reduce_flop generator
 * @param elapsedSeconds wall time spent training so far
 * @param worldSize     data-parallel ranks that trained it (the loader position counts windows over all of them)
 */
public record TrainerState(int step, long tokens, double flops, long loaderEpoch, long loaderPosition, long rngState,
                           double elapsedSeconds, int worldSize) {
    public static final String FILE = "trainer_state.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public void write(Path dir) throws IOException {
        ObjectNode n = JSON.createObjectNode();
        n.put("step", step);
        n.put("tokens", tokens);
        n.put("flops", flops);
        ObjectNode loader = n.putObject("train_loader");
        loader.put("epoch", loaderEpoch);
        loader.put("position", loaderPosition);
        n.put("rng_state", Long.toUnsignedString(rngState));
        n.put("elapsed_seconds", elapsedSeconds);
        n.put("world_size", worldSize);
        Files.writeString(dir.resolve(FILE), JSON.writeValueAsString(n) + "\n");
    }

    public static TrainerState read(Path dir) {
        Path file = dir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(file + ": missing; cannot resume without the trainer state");
        }
        JsonFields f = JsonFields.read(file);
        JsonFields loader = f.object("train_loader");
        long rng;
        try {
            rng = Long.parseUnsignedLong(f.string("rng_state"));
        } catch (NumberFormatException e) {
            throw f.error("rng_state", "is not an unsigned 64-bit integer");
        }
        TrainerState s = new TrainerState(f.integer("step"), f.longValue("tokens", 0), f.number("flops"),
                loader.longValue("epoch", 0), loader.longValue("position", 0), rng, f.number("elapsed_seconds", 0),
                f.integer("world_size", 1));
        loader.rejectUnknown();
        f.rejectUnknown();
        if (s.step < 0) throw new ConfigException(file + ": field 'step' must not be negative");
        if (s.worldSize < 1) throw f.error("world_size", "must be at least 1, got " + s.worldSize);
        if (s.tokens < 0) throw f.error("tokens", "must not be negative, got " + s.tokens);
        if (s.flops < 0) throw f.error("flops", "must not be negative, got " + s.flops);
        if (s.elapsedSeconds < 0) throw f.error("elapsed_seconds", "must not be negative, got " + s.elapsedSeconds);
        if (s.loaderEpoch < 0) throw loader.error("epoch", "must not be negative, got " + s.loaderEpoch);
        if (s.loaderPosition < 0) throw loader.error("position", "must not be negative, got " + s.loaderPosition);
        return s;
    }

}
