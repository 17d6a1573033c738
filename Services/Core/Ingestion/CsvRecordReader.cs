using System.Text;

namespace Flywheel.Core.Ingestion;

/// <summary>The file itself is malformed at a line: the upload stops there with a 4xx; rows already committed stay.</summary>
public sealed class MalformedDataException(long line, string message) : Exception($"Line {line}: {message}")
{
    public long Line { get; } = line;

    public string Reason { get; } = message;
}

/// <summary>
/// Reads RFC 4180 CSV records one at a time from a text stream: quoted fields may hold commas,
/// quotes ("") and line breaks; CRLF or LF ends a record. A record longer than the limit, or a
/// quote left open at the end of the file, is a <see cref="MalformedDataException"/> — the
/// reader never buffers more than one record.
/// </summary>
public sealed class CsvRecordReader(TextReader reader, int maxRecordLength = CsvRecordReader.DefaultMaxRecordLength)
{
    public const int DefaultMaxRecordLength = 1 << 20;

    private readonly StringBuilder _field = new();
    private long _nextLine = 1;

    /// <summary>The line on which the record last returned starts (1-based).</summary>
    public long Line { get; private set; }

    public string[]? Read()
    {
        Line = _nextLine;
        var fields = new List<string>();
        _field.Clear();
        var length = 0;
        var quoted = false;
        var atFieldStart = true;
        var any = false;

        while (true)
        {
            var c = reader.Read();
            if (c == -1)
            {
                if (quoted)
                {
                    throw new MalformedDataException(Line, "a quoted field is not closed before the end of the file.");
                }

                if (!any)
                {
                    return null;
                }

                fields.Add(_field.ToString());
                return fields.ToArray();
            }

            any = true;
            if (++length > maxRecordLength)
            {
                throw new MalformedDataException(Line, $"the record is longer than {maxRecordLength} characters.");
            }

            var ch = (char)c;
            if (quoted)
            {
                if (ch == '"')
                {
                    if (reader.Peek() == '"')
                    {
                        reader.Read();
                        _field.Append('"');
                    }
                    else
                    {
                        quoted = false;
                    }
                }
                else
                {
                    if (ch == '\n')
                    {
                        _nextLine++;
                    }

                    _field.Append(ch);
                }

                continue;
            }

            switch (ch)
            {
                case '"' when atFieldStart:
                    quoted = true;
                    atFieldStart = false;
                    break;
                case ',':
                    fields.Add(_field.ToString());
                    _field.Clear();
                    atFieldStart = true;
                    break;
                case '\r' when reader.Peek() == '\n':
                    break;
                case '\n':
                    _nextLine++;
                    fields.Add(_field.ToString());
                    return fields.ToArray();
                default:
                    _field.Append(ch);
                    atFieldStart = false;
                    break;
            }
        }
    }
}
