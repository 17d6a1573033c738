using Flywheel.Core.Migrations;

namespace Flywheel.Core.Tests.Migrations;

public sealed class MigrationPlanTests
{
    private static readonly MigrationScript Schemas = new("0001_schemas", "CREATE SCHEMA registry;");
    private static readonly MigrationScript Models = new("0002_models", "CREATE TABLE registry.models (id int);");
    private static readonly MigrationScript Versions = new("0003_versions", "CREATE TABLE registry.versions (id int);");

    private static AppliedMigration Applied(MigrationScript script) => new(script.Id, script.Checksum);

    [Fact]
    public void A_new_database_gets_every_migration_in_sequence_order()
    {
        var pending = MigrationPlan.Pending([Versions, Schemas, Models], []);

        Assert.Equal(["0001_schemas", "0002_models", "0003_versions"], pending.Select(s => s.Id));
    }

    [Fact]
    public void A_current_database_gets_nothing()
    {
        var pending = MigrationPlan.Pending([Schemas, Models], [Applied(Schemas), Applied(Models)]);

        Assert.Empty(pending);
    }

    [Fact]
    public void Only_migrations_newer_than_the_history_are_pending()
    {
        var pending = MigrationPlan.Pending([Schemas, Models, Versions], [Applied(Schemas)]);

        Assert.Equal(["0002_models", "0003_versions"], pending.Select(s => s.Id));
    }

    [Fact]
    public void Checksums_are_compared_without_regard_to_hex_case()
    {
        var pending = MigrationPlan.Pending([Schemas], [new AppliedMigration(Schemas.Id, Schemas.Checksum.ToUpperInvariant())]);

        Assert.Empty(pending);
    }

    [Fact]
    public void An_applied_migration_that_was_edited_stops_the_plan()
    {
        var edited = new MigrationScript("0001_schemas", "CREATE SCHEMA registry; CREATE SCHEMA extra;");

        var error = Assert.Throws<MigrationHistoryException>(() => MigrationPlan.Pending([edited, Models], [Applied(Schemas)]));

        var problem = Assert.Single(error.Problems);
        Assert.Contains("'0001_schemas' was edited after it was applied", problem, StringComparison.Ordinal);
        Assert.Contains(Schemas.Checksum, problem, StringComparison.Ordinal);
        Assert.Contains(edited.Checksum, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_database_migrated_by_a_newer_build_stops_the_plan()
    {
        var error = Assert.Throws<MigrationHistoryException>(() =>
            MigrationPlan.Pending([Schemas, Models], [Applied(Schemas), Applied(Models), Applied(Versions)]));

        Assert.Contains(error.Problems, p => p.Contains("'0003_versions'", StringComparison.Ordinal) && p.Contains("newer version", StringComparison.Ordinal));
    }

    [Fact]
    public void Two_scripts_with_one_sequence_number_stop_the_plan()
    {
        var twin = new MigrationScript("0002_other", "SELECT 1;");

        var error = Assert.Throws<MigrationHistoryException>(() => MigrationPlan.Pending([Schemas, Models, twin], []));

        Assert.Contains(error.Problems, p => p.Contains("share sequence number 0002", StringComparison.Ordinal));
    }

    [Fact]
    public void A_script_older_than_the_history_would_run_out_of_order_and_stops_the_plan()
    {
        var error = Assert.Throws<MigrationHistoryException>(() =>
            MigrationPlan.Pending([Schemas, Models, Versions], [Applied(Schemas), Applied(Versions)]));

        Assert.Contains(error.Problems, p => p.Contains("'0002_models'", StringComparison.Ordinal) && p.Contains("out of order", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var edited = new MigrationScript("0001_schemas", "-- changed");

        var error = Assert.Throws<MigrationHistoryException>(() =>
            MigrationPlan.Pending([edited, Models], [Applied(Schemas), Applied(Versions)]));

        Assert.Equal(2, error.Problems.Count);
        Assert.StartsWith("The database's migration history does not match this build", error.Message, StringComparison.Ordinal);
    }
}
