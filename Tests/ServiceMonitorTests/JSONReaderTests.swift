@testable import ServiceMonitor
import Testing
import TestSupport

@Suite("JSON reader (RFC 8259)", .tags(.fast))
struct JSONReaderTests {
    private func parse(_ text: String) throws(JSONReader.SyntaxError) -> JSONValue {
        try JSONReader.parse(Array(text.utf8))
    }

    private func reason(_ bytes: [UInt8]) -> String? {
        do {
            _ = try JSONReader.parse(bytes)
            return nil
        } catch {
            return error.reason
        }
    }

    private func reason(_ text: String) -> String? {
        reason(Array(text.utf8))
    }

    @Test func readsEveryKindOfValue() throws {
        let value = try parse(#" {"s": "x", "n": -12.5e1, "t": true, "f": false, "z": null, "a": [1, [], {}], "o": {"k": "v"}} "#)
        #expect(value == .object([
            "s": .string("x"), "n": .number(-125), "t": .bool(true), "f": .bool(false), "z": .null,
            "a": .array([.number(1), .array([]), .object([:])]), "o": .object(["k": .string("v")]),
        ]))
        #expect(try parse("\t\r\n 0 \n") == .number(0))
        #expect(try parse(#""""#) == .string(""))
    }

    @Test func readsNumbersAsTheGrammarAllows() throws {
        let valid: [(String, Double)] = [
            ("0", 0), ("-0", 0), ("7", 7), ("-7", -7), ("10", 10), ("0.5", 0.5), ("1e3", 1000), ("1E+3", 1000),
            ("25e-1", 2.5), ("-0.0e0", 0), ("9300", 9300), ("1.7976931348623157e308", 1.7976931348623157e308),
        ]
        for (text, number) in valid {
            #expect(try parse(text) == .number(number), "\(text)")
        }
        for text in ["01", "-01", "+1", ".5", "1.", "1.e3", "1e", "1e+", "-", "0x10", "NaN", "Infinity", "-Infinity", "1e400", "- 1"] {
            #expect(reason(text) != nil, "\(text) accepted")
        }
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        #expect(try parse(#""\" \\ \/ \b \f \n \r \t""#) == .string("\" \\ / \u{08} \u{0C} \n \r \t"))
        #expect(try parse(#""\u0041\u00e9\u20AC""#) == .string("Aé€"))
        #expect(try parse(#""a\ud83d\ude00b""#) == .string("a😀b"))
        #expect(try parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try parse("\"ü😀 unescaped\"") == .string("ü😀 unescaped"))
        for text in [
            #""\ud83d""#, #""\ud83dx""#, #""\ud83d\u0041""#, #""\ude00""#, #""\u12""#, #""\u12G4""#,
            #""\x""#, #""\'""#, "\"tab\tinside\"", "\"line\nbreak\"", #""open"#, #""\"#,
        ] {
            #expect(reason(text) != nil, "\(text.debugDescription) accepted")
        }
    }

    @Test func rejectsBytesThatAreNotUTF8() {
        #expect(reason([0x22, 0xFF, 0x22]) == "a string that is not UTF-8")
        #expect(reason([0x22, 0xC3, 0x22]) == "a string that is not UTF-8")  // cut-short two-byte sequence
        #expect(reason([0x22, 0xF0, 0x9F, 0x98, 0x22]) == "a string that is not UTF-8")  // cut-short four-byte sequence
        #expect(reason([0x22, 0xED, 0xA0, 0x80, 0x22]) == "a string that is not UTF-8")  // an encoded surrogate
        #expect(reason([0x22, 0xC3, 0xBC, 0x5C, 0x6E, 0xFF, 0x22]) == "a string that is not UTF-8")  // after an escape
        #expect(reason([0x22, 0xEF, 0xBF, 0xBD, 0x22]) == nil)  // U+FFFD itself is fine
    }

    @Test func rejectsTrailingCommasAsSuch() {
        for text in [#"{"a": 1,}"#, "[1,]", #"{"a": [1, 2 , ] }"#, "[ 1 ,\n ]"] {
            #expect(reason(text) == JSONReader.SyntaxError.trailingCommaReason, "\(text)")
        }
        // A comma inside a string is text, not syntax.
        #expect(reason(#"{"x": "],", "y": ",}"}"#) == nil)
    }

    @Test func rejectsWhatIsNotOneJSONValue() {
        for text in [
            "", " ", "{", "[", "}", "{\"a\" 1}", "{\"a\":}", "{a: 1}", "{'a': 1}", "{\"a\": 1 \"b\": 2}", "[1 2]",
            "[,1]", "{,}", "1 2", "{} {}", "tru", "truex", "nul", "True", "\u{FEFF}{}", "{\"a\": 1}x", "// comment",
            "[1]\u{0B}", "\"a\"\u{A0}",
        ] {
            #expect(reason(text) != nil, "\(text.debugDescription) accepted")
        }
    }

    @Test func limitsNestingDepth() throws {
        let limit = JSONReader.maximumDepth
        let deepest = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        #expect(try parse(deepest) != .null)
        let tooDeep = String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)
        #expect(reason(tooDeep) == "nested deeper than \(limit)")
        let objects = String(repeating: #"{"a":"#, count: limit + 1) + "1" + String(repeating: "}", count: limit + 1)
        #expect(reason(objects) == "nested deeper than \(limit)")
    }

    @Test func keepsTheFirstOfRepeatedKeys() throws {
        #expect(try parse(#"{"a": 1, "b": 2, "a": 3}"#) == .object(["a": .number(1), "b": .number(2)]))
    }

    @Test func pointsAtTheFirstBadByte() {
        do {
            _ = try JSONReader.parse(Array(#"{"a": [1, 2, x]}"#.utf8))
            Issue.record("accepted")
        } catch {
            #expect(error.offset == 13)
        }
    }

    @Test func readsRecordsAndRejectsOthers() throws {
        let record = #"{"service_id":"es-1","host":"10.0.0.5","state":"down","since":"2026-11-28T12:00:01.042Z","detail":"connection refused","info":{"transport_port":9300},"extra":[1]}"#
        let decoded = try InstanceRecord.decode(Array(record.utf8))
        #expect(decoded.serviceID == "es-1" && decoded.host == "10.0.0.5" && decoded.state == .down)
        #expect(decoded.info.fields == ["transport_port": .number(9300)])
        for broken in [
            #"{"service_id":"es-1","host":"h","state":"up","since":"s","detail":"d"}"#,  // no info
            #"{"service_id":"es-1","host":"h","state":"sideways","since":"s","detail":"d","info":{}}"#,
            #"{"service_id":1,"host":"h","state":"up","since":"s","detail":"d","info":{}}"#,
            #"{"service_id":"es-1","host":"h","state":"up","since":"s","detail":"d","info":[]}"#,
            #"["not", "an", "object"]"#,
            #"{"service_id":"es-1","host":"h","state":"up","since":"s","detail":"d","info":{},}"#,
            #"{"service_id":"es-1","host":"h","state":"up","since":"s","detail":"d","info":{}} x"#,
            // The first of a repeated key counts, as in any object JSONReader reads: a number here.
            #"{"service_id":"es-1","host":7,"host":"h","state":"up","since":"s","detail":"d","info":{}}"#,
        ] {
            #expect(throws: (any Error).self, "\(broken)") { try InstanceRecord.decode(Array(broken.utf8)) }
        }
        let repeated = #"{"service_id":"es-1","host":"first","state":"up","since":"s","detail":"d","info":{},"host":"second"}"#
        #expect(try InstanceRecord.decode(Array(repeated.utf8)).host == "first")
    }
    /// Keys are compared as bytes unless escaped, and members a record does not read are still
    /// judged whole: the fast path accepts exactly what the reader does.
    @Test func readsRecordMembersAsTheReaderDoes() throws {
        let escapedKeys = #"{ "service_\u0069d" : "es-1", "ho\u0073t":"h\"1", "state":"up","since":"s","detail":"d","info":{"a":{"b":[]}}, "new":{"x":[1,{"y":null}]} }"#
        let decoded = try InstanceRecord.decode(Array(escapedKeys.utf8))
        #expect(decoded.serviceID == "es-1" && decoded.host == #"h"1"#)
        #expect(decoded.info.fields == ["a": .object(["b": .array([])])])
        let valid = #"{"service_id":"es-1","host":"h","state":"up","since":"s","detail":"d","info":{}"#
        for broken in [
            valid + #","new":[1,}"#,  // a member the record does not read, which is not JSON
            valid + #","new":01}"#,
            valid + #","new":"tab\#there"}"#,
            valid + #","new":"\x"}"#,
            valid + #","":1,}"#,
            valid + #""new":1}"#,
            valid,  // no closing brace
        ] {
            #expect(throws: (any Error).self, "\(broken)") { try InstanceRecord.decode(Array(broken.utf8)) }
        }
        // A key that is not UTF-8 (a lone continuation byte) is refused even though unread.
        let notUTF8 = Array((valid + #","k"#).utf8) + [0xBF] + Array(#"":1}"#.utf8)
        #expect(throws: (any Error).self) { try InstanceRecord.decode(notUTF8) }
        #expect(try InstanceRecord.decode(Array((valid + #","new":1}"#).utf8)) == InstanceRecord.decode(Array((valid + "}").utf8)))
    }

    /// Values valid and not, each of the ways the reader refuses one.
    static let values: [[UInt8]] = [
        #""x""#, #""""#, #""\" \\ \/ \b \f \n \r \t""#, #""a\ud83d\ude00b""#, "\"ü😀\"", #""\ud83d""#, #""\u12G4""#, #""\x""#,
        "\"tab\tinside\"", #""open"#, "0", "-7", "25e-1", "01", "1.", "1e400", "-", "true", "tru", "truex", "null", "nul",
        "[]", "[1, [], {}]", "[1,]", "[1 2]", "[,1]", "[", #"{"k": "v", "o": {"a": [null]}}"#, #"{"a": 1,}"#, "{a: 1}",
        #"{"a" 1}"#, #"{"a":}"#, "{", "}", "x", "",
        String(repeating: "[", count: JSONReader.maximumDepth) + String(repeating: "]", count: JSONReader.maximumDepth),
        String(repeating: #"{"a":"#, count: JSONReader.maximumDepth) + "1" + String(repeating: "}", count: JSONReader.maximumDepth),
    ].map { Array($0.utf8) } + [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0xBC, 0x5C, 0x6E, 0xFF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22]]

    /// Skipping a member's value (what a record does with the members it does not keep) accepts
    /// and refuses exactly what reading it does, with the same reason at the same offset.
    @Test(arguments: Self.values)
    func skippingAValueJudgesItAsReadingItDoes(_ value: [UInt8]) throws {
        let text = Array(#"{"k": "#.utf8) + value + Array("}".utf8)
        let read = Result { () throws(JSONReader.SyntaxError) in _ = try JSONReader.parse(text) }
        let skipped = Result { () throws(JSONReader.SyntaxError) in
            try text.withUnsafeBufferPointer { buffer throws(JSONReader.SyntaxError) in
                guard var members = try JSONReader.MemberReader(object: buffer) else { return }
                while try members.nextKey() != nil { try members.skip() }
                try members.finish()
            }
        }
        switch (read, skipped) {
        case (.success, .success): break
        case (.failure(let expected), .failure(let actual)): #expect(actual == expected)
        default: Issue.record("read: \(read), skipped: \(skipped)")
        }
    }

    static let record = #"{"service_id":"es-1","host":"10.0.0.5","state":"down","since":"2026-11-28T12:00:01.042Z","detail":"connection refused","info":{"transport_port":9300},"extra":[1]}"#

    /// Every choice of fields: those kept are as a whole decode has them, the rest empty.
    @Test func aRecordReadForSomeFieldsHasThoseAndLeavesTheRestEmpty() throws {
        let whole = try InstanceRecord.decode(Array(Self.record.utf8))
        for raw in UInt8(0)...InstanceRecord.Fields.all.rawValue {
            let fields = InstanceRecord.Fields(rawValue: raw)
            let read = try InstanceRecord.decode(Array(Self.record.utf8), keeping: fields)
            #expect(read.serviceID == (fields.contains(.serviceID) ? whole.serviceID : ""))
            #expect(read.host == (fields.contains(.host) ? whole.host : ""))
            #expect(read.state == whole.state)
            #expect(read.since == (fields.contains(.since) ? whole.since : ""))
            #expect(read.detail == (fields.contains(.detail) ? whole.detail : ""))
            #expect(read.info == (fields.contains(.info) ? whole.info : ServiceInfo(fields: [:])))
        }
    }

    /// A value that is no record is refused whatever is kept: a field left out is still checked.
    @Test func aValueThatIsNoRecordIsRefusedWhateverIsKept() throws {
        let valid = #"{"service_id":"es-1","host":"h","state":"up","since":"s","detail":"d","info":{}"#
        let broken = [
            #"{"service_id":"es-1","host":"h","state":"up","since":"s","detail":"d"}"#,
            #"{"service_id":1,"host":"h","state":"up","since":"s","detail":"d","info":{}}"#,
            #"{"service_id":"es-1","host":"h","state":"up","since":["s"],"detail":"d","info":{}}"#,
            #"{"service_id":"es-1","host":"h","state":"up","since":"s","detail":null,"info":{}}"#,
            #"{"service_id":"es-1","host":"h","state":"up","since":"s","detail":"d","info":[]}"#,
            #"{"service_id":"es-1","host":"h","state":"up","since":"s","detail":"d","info":{"a":01}}"#,
            #"{"service_id":"\x","host":"h","state":"up","since":"s","detail":"d","info":{}}"#,
            #"{"service_id":"es-1","host":"h","state":"up","since":7,"since":"s","detail":"d","info":{}}"#,
            valid + #","new":[1,}"#,
            valid,
        ].map { Array($0.utf8) } + [Array(#"{"service_id":""#.utf8) + [0xFF] + Array(#"","host":"h","state":"up","since":"s","detail":"d","info":{}}"#.utf8)]
        for raw in UInt8(0)...InstanceRecord.Fields.all.rawValue {
            for text in broken {
                #expect(throws: (any Error).self, "\(String(decoding: text, as: UTF8.self)) keeping \(raw)") {
                    try InstanceRecord.decode(text, keeping: InstanceRecord.Fields(rawValue: raw))
                }
            }
        }
    }

    /// Strings are scanned eight bytes at a time: a quote, an escape, a control character or a
    /// byte beyond ASCII is found wherever it falls in or across those words.
    @Test func findsWhatEndsOrBreaksAStringAtEveryOffset() throws {
        let filler = Array(repeating: UInt8(ascii: "a"), count: 24)
        for offset in 0...filler.count {
            let before = Array(filler[..<offset]), after = Array(filler[offset...])
            let text = { (middle: [UInt8]) in [0x22] + before + middle + after + [0x22] }
            let plain = String(decoding: before + after, as: UTF8.self)
            #expect(try JSONReader.parse(text([])) == .string(plain))
            #expect(try JSONReader.parse(text(Array(#"\n"#.utf8))) == .string(String(decoding: before, as: UTF8.self) + "\n" + String(decoding: after, as: UTF8.self)))
            #expect(try JSONReader.parse(text([0xC3, 0xBC])) == .string(String(decoding: before, as: UTF8.self) + "ü" + String(decoding: after, as: UTF8.self)))
            #expect(try JSONReader.parse(text([0x7F, 0x20])) == .string(String(decoding: before + [0x7F, 0x20] + after, as: UTF8.self)))
            #expect(throws: JSONReader.SyntaxError(reason: "a control character in a string (escape it)", offset: 1 + offset)) {
                try JSONReader.parse(text([0x1F]))
            }
            #expect(throws: JSONReader.SyntaxError(reason: "a string that is not UTF-8", offset: 1 + filler.count + 1)) {
                try JSONReader.parse(text([0xFF]))
            }
            // A quote ends it: what follows is text after the value.
            #expect(throws: JSONReader.SyntaxError(reason: "text after the value", offset: 1 + offset + 1)) {
                try JSONReader.parse(text([0x22]))
            }
        }
    }
}
