using Microsoft.ML;
using Microsoft.ML.Data;

namespace Flywheel.Training;

/// <summary>
/// An in-memory <see cref="IDataView"/> over columns built at run time, because every model has its
/// own features and ML.NET's typed loaders want a class per shape. Values live in one array per
/// column (floats, category codes), not a boxed object per cell, so a million rows of twenty features
/// stay around 80 MB. Shuffling is supported, so SDCA's seeded shuffles reach the data.
/// </summary>
internal sealed class ColumnarDataView : IDataView
{
    private readonly DataColumn[] _columns;
    private readonly int _rowCount;

    public ColumnarDataView(int rowCount, IEnumerable<DataColumn> columns)
    {
        _rowCount = rowCount;
        _columns = [.. columns];
        var builder = new DataViewSchema.Builder();
        foreach (var column in _columns)
        {
            builder.AddColumn(column.Name, column.Type, column.Annotations());
        }

        Schema = builder.ToSchema();
    }

    public DataViewSchema Schema { get; }

    public bool CanShuffle => true;

    public long? GetRowCount() => _rowCount;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        int[]? order = null;
        if (rand is not null)
        {
            order = [.. Enumerable.Range(0, _rowCount)];
            rand.Shuffle(order);
        }

        return new Cursor(this, columnsNeeded.Select(c => c.Index).ToHashSet(), order);
    }

    /// <summary>One cursor whatever <paramref name="n"/> asks: ML.NET accepts fewer, and a single cursor keeps row order, and so training, deterministic.</summary>
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    /// <summary>Walks the rows in order, or in a shuffled <c>order</c>; <see cref="Row"/> is the index into the column arrays.</summary>
    internal sealed class Cursor(ColumnarDataView view, HashSet<int> active, int[]? order) : DataViewRowCursor
    {
        private long _position = -1;

        public int Row { get; private set; } = -1;

        public override DataViewSchema Schema => view.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (_position + 1 >= view._rowCount)
            {
                Row = -1;
                return false;
            }

            _position++;
            Row = order is null ? (int)_position : order[_position];
            return true;
        }

        public override bool IsColumnActive(DataViewSchema.Column column) => active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!IsColumnActive(column))
            {
                throw new InvalidOperationException($"Column '{column.Name}' was not requested from this cursor.");
            }

            return view._columns[column.Index].Getter(this) as ValueGetter<TValue>
                ?? throw new InvalidOperationException($"Column '{column.Name}' holds {column.Type}, not {typeof(TValue).Name}.");
        }

        public override ValueGetter<DataViewRowId> GetIdGetter() =>
            (ref DataViewRowId id) => id = new DataViewRowId((ulong)Row, 0);
    }
}

/// <summary>One column of a <see cref="ColumnarDataView"/>: its name, its ML.NET type and a getter reading the cursor's row.</summary>
internal abstract class DataColumn(string name, DataViewType type)
{
    public string Name { get; } = name;

    public DataViewType Type { get; } = type;

    public virtual DataViewSchema.Annotations? Annotations() => null;

    public abstract Delegate Getter(ColumnarDataView.Cursor cursor);
}

/// <summary>Numbers and booleans as ML.NET reads features: float, with NaN for missing.</summary>
internal sealed class FloatColumn(string name, float[] values) : DataColumn(name, NumberDataViewType.Single)
{
    public override Delegate Getter(ColumnarDataView.Cursor cursor) =>
        new ValueGetter<float>((ref float value) => value = values[cursor.Row]);
}

/// <summary>Categories as codes into a vocabulary, so repeated values share one string; code -1 is missing and reads as empty text, which ML.NET treats as missing.</summary>
internal sealed class TextColumn(string name, int[] codes, ReadOnlyMemory<char>[] vocabulary) : DataColumn(name, TextDataViewType.Instance)
{
    public override Delegate Getter(ColumnarDataView.Cursor cursor) =>
        new ValueGetter<ReadOnlyMemory<char>>((ref ReadOnlyMemory<char> value) =>
        {
            var code = codes[cursor.Row];
            value = code < 0 ? ReadOnlyMemory<char>.Empty : vocabulary[code];
        });
}

/// <summary>A binary target.</summary>
internal sealed class BooleanColumn(string name, bool[] values) : DataColumn(name, BooleanDataViewType.Instance)
{
    public override Delegate Getter(ColumnarDataView.Cursor cursor) =>
        new ValueGetter<bool>((ref bool value) => value = values[cursor.Row]);
}

/// <summary>
/// A multiclass target as 1-based keys over <c>classes</c>. The class names ride along as key-value
/// annotations, so the trained model's predicted label maps back to them, in ML.NET and in ONNX.
/// </summary>
internal sealed class KeyColumn(string name, uint[] keys, string[] classes) : DataColumn(name, new KeyDataViewType(typeof(uint), classes.Length))
{
    public override DataViewSchema.Annotations Annotations()
    {
        // "KeyValues" is the annotation kind ML.NET reads key names from (its helper for it is internal).
        var builder = new DataViewSchema.Annotations.Builder();
        builder.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, classes.Length), (ref VBuffer<ReadOnlyMemory<char>> values) =>
            values = new VBuffer<ReadOnlyMemory<char>>(classes.Length, [.. classes.Select(c => c.AsMemory())]));
        return builder.ToAnnotations();
    }

    public override Delegate Getter(ColumnarDataView.Cursor cursor) =>
        new ValueGetter<uint>((ref uint value) => value = keys[cursor.Row]);
}
