using Flywheel.Core.Migrations;

namespace Flywheel.Core.Tests.Migrations;

public sealed class MigrationScriptTests
{
    [Fact]
    public void Checksum_is_the_lower_case_hex_sha256_of_the_script_text()
    {
        // printf 'SELECT 1;' | sha256sum
        var script = new MigrationScript("0001_one", "SELECT 1;");

        Assert.Equal("17db4fd369edb9244b9f91d9aeed145c3d04ad8ba6e95d06247f07a63527d11a", script.Checksum);
    }

    [Fact]
    public void Line_endings_do_not_change_the_checksum()
    {
        var unix = new MigrationScript("0001_one", "CREATE SCHEMA a;\nCREATE SCHEMA b;\n");
        var windows = new MigrationScript("0001_one", "CREATE SCHEMA a;\r\nCREATE SCHEMA b;\r\n");

        Assert.Equal(unix.Checksum, windows.Checksum);
    }

    [Fact]
    public void Any_other_edit_changes_the_checksum()
    {
        var original = new MigrationScript("0001_one", "CREATE SCHEMA a;");
        var edited = new MigrationScript("0001_one", "CREATE SCHEMA  a;");

        Assert.NotEqual(original.Checksum, edited.Checksum);
    }

    [Theory]
    [InlineData("0001_schemas", 1)]
    [InlineData("0042_feature_store_2", 42)]
    public void Sequence_is_read_from_the_first_four_digits(string id, int sequence) =>
        Assert.Equal(sequence, new MigrationScript(id, "SELECT 1;").Sequence);

    [Theory]
    [InlineData("schemas")]
    [InlineData("1_schemas")]
    [InlineData("0001schemas")]
    [InlineData("0001_")]
    [InlineData("0001_Schemas")]
    [InlineData("0001_drop table")]
    [InlineData("abcd_schemas")]
    public void Ids_without_a_sequence_number_and_a_lower_case_name_are_refused(string id)
    {
        var error = Assert.Throws<ArgumentException>(() => new MigrationScript(id, "SELECT 1;"));
        Assert.Contains(id, error.Message, StringComparison.Ordinal);
    }
}
