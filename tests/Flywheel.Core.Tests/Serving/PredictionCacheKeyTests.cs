using System.Globalization;
using Flywheel.Core.Serving;

namespace Flywheel.Core.Tests.Serving;

public sealed class PredictionCacheKeyTests
{
    private static Dictionary<string, object?> Row(params (string Name, object? Value)[] values) =>
        values.ToDictionary(v => v.Name, v => v.Value);

    [Fact]
    public void The_same_features_in_any_order_give_the_same_key()
    {
        var a = PredictionCacheKey.Compute("m", 1, Row(("amount", 12.5), ("category", "fuel"), ("online", true), ("hour", null)));
        var b = PredictionCacheKey.Compute("m", 1, Row(("hour", null), ("online", true), ("category", "fuel"), ("amount", 12.5)));

        Assert.Equal(a, b);
        Assert.StartsWith("predcache:m:1:", a);
        Assert.Equal("predcache:m:1:".Length + 64, a.Length);
    }

    [Fact]
    public void The_key_does_not_depend_on_the_culture()
    {
        var before = CultureInfo.CurrentCulture;
        try
        {
            var invariant = PredictionCacheKey.Canonical(Row(("amount", 1234.5)));
            CultureInfo.CurrentCulture = new CultureInfo("de-DE");
            Assert.Equal(invariant, PredictionCacheKey.Canonical(Row(("amount", 1234.5))));
            Assert.Equal("6:amount=n:1234.5\n", invariant);
        }
        finally
        {
            CultureInfo.CurrentCulture = before;
        }
    }

    [Theory]
    [InlineData("1")]
    [InlineData("true")]
    [InlineData("null")]
    public void Values_of_different_types_never_collide(string text)
    {
        var asText = PredictionCacheKey.Compute("m", 1, Row(("x", text)));

        Assert.NotEqual(asText, PredictionCacheKey.Compute("m", 1, Row(("x", 1.0))));
        Assert.NotEqual(asText, PredictionCacheKey.Compute("m", 1, Row(("x", true))));
        Assert.NotEqual(asText, PredictionCacheKey.Compute("m", 1, Row(("x", null))));
    }

    [Fact]
    public void Another_version_or_value_gives_another_key()
    {
        var row = Row(("amount", 12.5));

        Assert.NotEqual(PredictionCacheKey.Compute("m", 1, row), PredictionCacheKey.Compute("m", 2, row));
        Assert.NotEqual(PredictionCacheKey.Compute("m", 1, row), PredictionCacheKey.Compute("m", 1, Row(("amount", 12.500001))));
        Assert.NotEqual(PredictionCacheKey.Compute("m", 1, Row(("a", "b=c"))), PredictionCacheKey.Compute("m", 1, Row(("a=b", "c"))));
    }
}
