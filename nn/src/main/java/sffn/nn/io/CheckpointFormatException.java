package sffn.nn.io;

import java.nio.file.Path;

/**
 * A file on disk does not hold what it should: a corrupt or truncated safetensors file, or one
 * whose tensors do not match the model reading it. The message always starts with the file and
 * names the tensor when one is at fault. Failures of the operating system to read or write stay
 * {@link java.io.IOException}s; this exception is about the bytes, not about reaching them.
 */
public final class CheckpointFormatException extends IllegalArgumentException {
    private final transient Path file;

    public CheckpointFormatException(Path file, String detail) {
        super(file + ": " + detail);
        this.file = file;
    }

    public CheckpointFormatException(Path file, String detail, Throwable cause) {
        super(file + ": " + detail, cause);
        this.file = file;
    }

    /** The file at fault, as the caller named it. */
    public Path file() {
        return file;
    }
}
