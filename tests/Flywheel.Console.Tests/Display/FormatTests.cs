using Flywheel.Console.Display;

namespace Flywheel.Console.Tests.Display;

public sealed class FormatTests
{
    [Theory]
    [InlineData(0, "0 ms")]
    [InlineData(850, "850 ms")]
    [InlineData(999, "999 ms")]
    [InlineData(1000, "1.0 s")]
    [InlineData(12_345, "12.3 s")]
    [InlineData(59_999, "59.9 s")]
    [InlineData(60_000, "1 min 00 s")]
    [InlineData(245_000, "4 min 05 s")]
    [InlineData(3_599_000, "59 min 59 s")]
    [InlineData(3_600_000, "1 h 00 min")]
    [InlineData(7_380_000, "2 h 03 min")]
    [InlineData(93_600_000, "26 h 00 min")]
    [InlineData(172_799_000, "47 h 59 min")]
    [InlineData(172_800_000, "2 d 00 h")]
    [InlineData(284_400_000, "3 d 07 h")]
    public void Durations_read_in_the_largest_sensible_unit(long milliseconds, string expected) =>
        Assert.Equal(expected, Format.Duration(TimeSpan.FromMilliseconds(milliseconds)));

    [Fact]
    public void A_negative_duration_reads_as_zero_because_clocks_skew_between_services() =>
        Assert.Equal("0 ms", Format.Duration(TimeSpan.FromSeconds(-3)));

    [Fact]
    public void A_missing_duration_is_a_dash() => Assert.Equal("—", Format.Duration((TimeSpan?)null));

    [Theory]
    [InlineData(0, "0 B")]
    [InlineData(1023, "1023 B")]
    [InlineData(1024, "1.0 KiB")]
    [InlineData(1536, "1.5 KiB")]
    [InlineData(20 * 1024 * 1024, "20.0 MiB")]
    [InlineData(3L * 1024 * 1024 * 1024, "3.0 GiB")]
    [InlineData(5L * 1024 * 1024 * 1024 * 1024 * 1024, "5120.0 TiB")]
    public void Sizes_use_binary_units(long bytes, string expected) => Assert.Equal(expected, Format.Bytes(bytes));

    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(1000.0, "1,000")]
    [InlineData(-42.0, "-42")]
    [InlineData(0.91234, "0.9123")]
    [InlineData(0.000012346, "1.235E-05")]
    [InlineData(1234.56789, "1,234.5679")]
    [InlineData(2.5, "2.5")]
    public void Numbers_keep_four_significant_decimals(double value, string expected) => Assert.Equal(expected, Format.Number(value));

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void Numbers_that_are_not_finite_read_not_available(double value) => Assert.Equal("n/a", Format.Number(value));

    [Fact]
    public void A_missing_number_is_a_dash() => Assert.Equal("—", Format.Number((double?)null));

    [Theory]
    [InlineData(0.0123, "+0.0123")]
    [InlineData(-0.005, "\u22120.005")]
    [InlineData(0.0, "0")]
    [InlineData(3.0, "+3")]
    [InlineData(double.NaN, "n/a")]
    public void Changes_are_always_signed_with_a_true_minus(double delta, string expected) => Assert.Equal(expected, Format.Signed(delta));

    [Theory]
    [InlineData(0.0, "0%")]
    [InlineData(0.125, "12.5%")]
    [InlineData(0.0004, "0.04%")]
    [InlineData(1.0, "100%")]
    [InlineData(double.NaN, "n/a")]
    public void Rates_read_as_percentages(double rate, string expected) => Assert.Equal(expected, Format.Percent(rate));

    [Theory]
    [InlineData(0, "0 models")]
    [InlineData(1, "1 model")]
    [InlineData(1200, "1,200 models")]
    public void Counts_of_things_take_a_plural(long count, string expected) => Assert.Equal(expected, Format.Plural(count, "model"));

    [Fact]
    public void Timestamps_are_shown_in_utc_whatever_their_offset()
    {
        var at = new DateTimeOffset(2026, 1, 2, 5, 4, 5, TimeSpan.FromHours(2));

        Assert.Equal("2026-01-02 03:04:05 UTC", Format.Timestamp(at));
        Assert.Equal("2026-01-02T03:04:05.000Z", Format.IsoTimestamp(at));
        Assert.Equal("—", Format.Timestamp((DateTimeOffset?)null));
    }

    [Theory]
    [InlineData(null, "—")]
    [InlineData("", "—")]
    [InlineData("abc", "abc")]
    [InlineData("0123456789ab", "0123456789ab")]
    [InlineData("0123456789abcdef", "0123456789ab…")]
    public void Hashes_are_shortened_to_twelve_digits(string? hash, string expected) => Assert.Equal(expected, Format.ShortHash(hash));

    [Fact]
    public void Hyperparameters_are_listed_by_name()
    {
        var hyperparameters = new Dictionary<string, double> { ["num_leaves"] = 31, ["learning_rate"] = 0.05 };

        Assert.Equal("learning_rate=0.05, num_leaves=31", Format.Hyperparameters(hyperparameters));
        Assert.Equal("defaults", Format.Hyperparameters(null));
        Assert.Equal("defaults", Format.Hyperparameters(new Dictionary<string, double>()));
    }

    [Theory]
    [InlineData("log_loss", "Log loss")]
    [InlineData("unseen-class", "Unseen class")]
    [InlineData("x", "X")]
    [InlineData("_", "_")]
    public void Unknown_names_become_sentence_case(string name, string expected) => Assert.Equal(expected, Format.Humanize(name));
}
