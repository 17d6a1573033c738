using Flywheel.Core.Ingestion;

namespace Flywheel.Core.Tests.Ingestion;

public sealed class CsvRecordReaderTests
{
    private static List<(long Line, string[] Fields)> ReadAll(string text, int max = CsvRecordReader.DefaultMaxRecordLength)
    {
        var reader = new CsvRecordReader(new StringReader(text), max);
        var records = new List<(long, string[])>();
        while (reader.Read() is { } fields)
        {
            records.Add((reader.Line, fields));
        }

        return records;
    }

    [Fact]
    public void Plain_records_split_on_commas_and_line_ends()
    {
        var records = ReadAll("a,b,c\n1,2,3\n");

        Assert.Equal([(1L, new[] { "a", "b", "c" }), (2L, new[] { "1", "2", "3" })], records.Select(r => (r.Line, r.Fields)));
    }

    [Fact]
    public void Crlf_line_ends_are_accepted() =>
        Assert.Equal(["1", "2"], ReadAll("a,b\r\n1,2\r\n")[1].Fields);

    [Fact]
    public void A_last_record_without_a_line_end_is_read() =>
        Assert.Equal(["1", "2"], ReadAll("a,b\n1,2")[1].Fields);

    [Fact]
    public void Empty_fields_are_kept() =>
        Assert.Equal(["", "x", ""], ReadAll(",x,\n")[0].Fields);

    [Fact]
    public void Quoted_fields_hold_commas_quotes_and_line_breaks()
    {
        var records = ReadAll("a,b\n\"x, y\",\"say \"\"hi\"\"\nthere\"\n3,4\n");

        Assert.Equal(["x, y", "say \"hi\"\nthere"], records[1].Fields);
        Assert.Equal(2, records[1].Line);
        // The record after a multi-line field starts on the right line.
        Assert.Equal(4, records[2].Line);
    }

    [Fact]
    public void An_unclosed_quote_is_malformed_at_the_line_where_its_record_starts()
    {
        var error = Assert.Throws<MalformedDataException>(() => ReadAll("a,b\n1,2\n\"open,3\n4,5\n"));

        Assert.Equal(3, error.Line);
        Assert.Contains("not closed", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void An_over_long_record_is_malformed_without_reading_it_all()
    {
        var reader = new CsvRecordReader(new StringReader("a\n" + new string('x', 5000) + "\n"), maxRecordLength: 100);
        reader.Read();

        var error = Assert.Throws<MalformedDataException>(() => reader.Read());

        Assert.Equal(2, error.Line);
        Assert.Contains("longer than 100", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_input_has_no_records() => Assert.Empty(ReadAll(""));
}
