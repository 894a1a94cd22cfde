package sffn.nn.config;

/** A config that cannot be used; the message names the file, the field and what to do. */
public final class ConfigException extends IllegalArgumentException {
    public ConfigException(String message) {
        super(message);
    }
}
