package sffn.nn.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Reads the fields of one JSON object strictly: every error names the source and the field, and
 * fields nobody asked for are reported as unknown (with the known ones listed), so a typo in a
 * config never passes silently.
 */
public final class JsonFields {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private final String source;
    private final ObjectNode node;
    private final Set<String> known = new LinkedHashSet<>();

    public JsonFields(String source, JsonNode node) {
        if (node == null || !node.isObject()) {
            throw new ConfigException(source + ": expected a JSON object");
        }
        this.source = source;
        this.node = (ObjectNode) node;
    }

    /** Parses a file; a missing file or bad JSON is reported with the path. */
    public static JsonFields read(Path file) {
        try {
            return new JsonFields(file.toString(), MAPPER.readTree(Files.readString(file)));
        } catch (NoSuchFileException e) {
            throw new ConfigException(file + ": no such file");
        } catch (JsonProcessingException e) {
            throw new ConfigException(file + ": not valid JSON (" + e.getOriginalMessage() + " at line "
                    + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")");
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot be read (" + e.getMessage() + ")");
        }
    }

    public static JsonFields parse(String source, String json) {
        try {
            return new JsonFields(source, MAPPER.readTree(json));
        } catch (JsonProcessingException e) {
            throw new ConfigException(source + ": not valid JSON (" + e.getOriginalMessage() + ")");
        }
    }

    /** The object itself, for callers that pass parts of it on. */
    public JsonNode node() {
        return node;
    }

    public String source() {
        return source;
    }

    public boolean has(String field) {
        known.add(field);
        return node.has(field) && !node.get(field).isNull();
    }

    private JsonNode get(String field) {
        known.add(field);
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) throw error(field, "is missing");
        return v;
    }

    public ConfigException error(String field, String problem) {
        return new ConfigException(source + ": field '" + field + "' " + problem);
    }

    public int integer(String field) {
        JsonNode v = get(field);
        if (!v.canConvertToInt() || !v.isIntegralNumber()) throw error(field, "must be an integer, got " + v);
        return v.intValue();
    }

    public int integer(String field, int fallback) {
        return has(field) ? integer(field) : fallback;
    }

    public int positive(String field) {
        int v = integer(field);
        if (v <= 0) throw error(field, "must be positive, got " + v);
        return v;
    }

    public int positive(String field, int fallback) {
        return has(field) ? positive(field) : fallback;
    }

    public long longValue(String field, long fallback) {
        if (!has(field)) return fallback;
        JsonNode v = get(field);
        if (!v.isIntegralNumber() || !v.canConvertToLong()) throw error(field, "must be an integer, got " + v);
        return v.longValue();
    }

    public double number(String field) {
        JsonNode v = get(field);
        if (!v.isNumber()) throw error(field, "must be a number, got " + v);
        if (!Double.isFinite(v.doubleValue())) throw error(field, "must be a finite number, got " + v);
        return v.doubleValue();
    }

    public double number(String field, double fallback) {
        return has(field) ? number(field) : fallback;
    }

    public boolean bool(String field) {
        JsonNode v = get(field);
        if (!v.isBoolean()) throw error(field, "must be true or false, got " + v);
        return v.booleanValue();
    }

    public boolean bool(String field, boolean fallback) {
        return has(field) ? bool(field) : fallback;
    }

    public String string(String field) {
        JsonNode v = get(field);
        if (!v.isTextual()) throw error(field, "must be a string, got " + v);
        return v.textValue();
    }

    public String string(String field, String fallback) {
        return has(field) ? string(field) : fallback;
    }

    /** One of the given lower-case names. */
    public <E extends Enum<E>> E choice(String field, Class<E> type) {
        String s = string(field);
        for (E e : type.getEnumConstants()) {
            if (e.name().toLowerCase(Locale.ROOT).equals(s)) return e;
        }
        throw error(field, "must be one of " + names(type) + ", got \"" + s + "\"");
    }

    public <E extends Enum<E>> E choice(String field, Class<E> type, E fallback) {
        return has(field) ? choice(field, type) : fallback;
    }

    public JsonFields object(String field) {
        JsonNode v = get(field);
        if (!v.isObject()) throw error(field, "must be a JSON object, got " + v);
        return new JsonFields(source + " (" + field + ")", v);
    }

    public static <E extends Enum<E>> String names(Class<E> type) {
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) names.add(e.name().toLowerCase(Locale.ROOT));
        return String.join("|", names);
    }

    /** Fails on any field that was never asked for. Call after reading everything. */
    public void rejectUnknown() {
        List<String> unknown = new ArrayList<>();
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!known.contains(f)) unknown.add(f);
        }
        if (!unknown.isEmpty()) {
            throw new ConfigException(source + ": unknown field" + (unknown.size() > 1 ? "s " : " ")
                    + String.join(", ", unknown.stream().map(f -> "'" + f + "'").toList())
                    + "; known fields are " + String.join(", ", known));
        }
    }
}
