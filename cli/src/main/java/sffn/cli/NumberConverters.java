package sffn.cli;

import java.math.BigDecimal;
import java.math.BigInteger;
import picocli.CommandLine;
import picocli.CommandLine.TypeConversionException;

/**
 * Counts on the command line may be written as {@code 1e4}, {@code 25.5e9} or {@code 1_000_000}
 * as well as {@code 10000}; a count that is not a whole number, or does not fit, is an error naming it.
 */
final class NumberConverters {
    private NumberConverters() {
    }

    static void register(CommandLine cl) {
        CommandLine.ITypeConverter<Integer> toInt = s -> (int) whole(s, Integer.MIN_VALUE, Integer.MAX_VALUE);
        CommandLine.ITypeConverter<Long> toLong = s -> whole(s, Long.MIN_VALUE, Long.MAX_VALUE);
        cl.registerConverter(Integer.class, toInt);
        cl.registerConverter(Integer.TYPE, toInt);
        cl.registerConverter(Long.class, toLong);
        cl.registerConverter(Long.TYPE, toLong);
    }

    static long whole(String text, long min, long max) {
        String s = text.strip().replace("_", "");
        BigDecimal d;
        try {
            d = new BigDecimal(s);
        } catch (NumberFormatException e) {
            throw new TypeConversionException("'" + text + "' is not a number");
        }
        BigInteger i;
        try {
            i = d.toBigIntegerExact();
        } catch (ArithmeticException e) {
            throw new TypeConversionException("'" + text + "' is not a whole number");
        }
        if (i.compareTo(BigInteger.valueOf(min)) < 0 || i.compareTo(BigInteger.valueOf(max)) > 0) {
            throw new TypeConversionException("'" + text + "' is out of range (" + min + " to " + max + ")");
        }
        return i.longValue();
    }
}
