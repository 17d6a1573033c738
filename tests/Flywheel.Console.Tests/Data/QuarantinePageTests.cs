using Flywheel.Console.Data;

namespace Flywheel.Console.Tests.Data;

public sealed class QuarantinePageTests
{
    [Fact]
    public void The_first_of_several_pages_leads_only_forward()
    {
        var page = new QuarantinePage(0, 50, 120, 50);

        Assert.False(page.HasPrevious);
        Assert.True(page.HasNext);
        Assert.Equal(50, page.NextOffset);
        Assert.Equal("Rows 1–50 of 120", page.Describe());
    }

    [Fact]
    public void A_middle_page_leads_both_ways()
    {
        var page = new QuarantinePage(50, 50, 120, 50);

        Assert.True(page.HasPrevious);
        Assert.True(page.HasNext);
        Assert.Equal(0, page.PreviousOffset);
        Assert.Equal(100, page.NextOffset);
        Assert.Equal("Rows 51–100 of 120", page.Describe());
    }

    [Fact]
    public void The_last_page_is_short_and_leads_only_back()
    {
        var page = new QuarantinePage(100, 50, 120, 20);

        Assert.True(page.HasPrevious);
        Assert.False(page.HasNext);
        Assert.Equal("Rows 101–120 of 120", page.Describe());
    }

    [Fact]
    public void A_full_page_that_reaches_the_total_is_the_last() => Assert.False(new QuarantinePage(50, 50, 100, 50).HasNext);

    [Fact]
    public void A_short_page_is_the_last_even_when_the_count_says_more() => Assert.False(new QuarantinePage(0, 50, 500, 10).HasNext);

    [Fact]
    public void The_previous_offset_never_goes_below_zero() => Assert.Equal(0, new QuarantinePage(20, 50, 100, 50).PreviousOffset);

    [Fact]
    public void More_rows_than_the_count_says_are_still_described_truthfully() =>
        Assert.Equal("Rows 1–10 of 10", new QuarantinePage(0, 50, 4, 10).Describe());

    [Fact]
    public void An_ingestion_with_nothing_quarantined_says_so()
    {
        Assert.Equal("No quarantined rows.", new QuarantinePage(0, 50, 0, 0).Describe());
        Assert.Equal("No rows on this page.", new QuarantinePage(100, 50, 100, 0).Describe());
    }
}
