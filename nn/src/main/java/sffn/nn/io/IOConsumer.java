package sffn.nn.io;

import java.io.IOException;

/** A consumer that may fail with an {@link IOException}, e.g. code that fills a directory. */
@FunctionalInterface
public interface IOConsumer<T> {
    void accept(T value) throws IOException;
}
