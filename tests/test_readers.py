"""Format readers: each fixture (written to the vendor's documented schema) -> the expected turns,
detection by content, --format forcing, round trips to native JSON, and role resolution."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from transcript_qa.readers import READERS, Document, ReaderError, detect, get_reader, reader_names
from transcript_qa.readers.base import RawCall, RawTurn
from transcript_qa.readers.csvfile import CsvReader
from transcript_qa.readers.harper_valley import HarperValleyReader
from transcript_qa.readers.native import NativeReader
from transcript_qa.roles import build_call, resolve_roles
from transcript_qa.sources import CallReader, read_call, read_calls
from transcript_qa.transcript import Call, Role

FIX = Path(__file__).parent / "fixtures"
FMT = FIX / "formats"
HV = FIX / "harper_valley"
A, C = Role.AGENT, Role.CUSTOMER

# every fixture and the reader that must detect it
FIXTURES = {
    "call.vtt": "vtt",
    "call.srt": "srt",
    "calls.csv": "csv",
    "calls.tsv": "csv",
    "aws_transcribe_speakers.json": "aws_transcribe",
    "aws_transcribe_channels.json": "aws_transcribe",
    "aws_transcribe_segments.json": "aws_transcribe",
    "call_analytics.json": "contact_lens",
    "contact_lens.json": "contact_lens",
    "deepgram.json": "deepgram",
    "assemblyai.json": "assemblyai",
    "whisper.json": "whisper",
    "whisperx.json": "whisper",
    "google_ccai_entries.json": "google_ccai",
    "google_ccai_conversation.json": "google_ccai",
    "genesys.json": "genesys",
    "twilio_sentences.json": "twilio",
    "twilio_transcript.json": "twilio",
}
HV_IDS = ["0002f70f7386445b", "00f7dce6fc3849a2", "010d38f5ada54e0d"]
ALL_FIXTURES = [FMT / n for n in FIXTURES] + [HV / "transcript" / f"{s}.json" for s in HV_IDS]


def doc_of(path: Path) -> Document:
    return Document(str(path), path.read_bytes())


def rows(call: Call) -> list[tuple]:
    return [(t.speaker, t.role, t.text, t.start, t.end) for t in call.turns]


def words(text: str) -> list[str]:
    return re.findall(r"[\w'’%]+", text.lower())


# ---- detection --------------------------------------------------------------------------------
@pytest.mark.parametrize("name,fmt", sorted(FIXTURES.items()))
def test_detect_picks_the_right_reader(name, fmt):
    assert detect(doc_of(FMT / name)).name == fmt


@pytest.mark.parametrize("sid", HV_IDS)
def test_detect_harper_valley(sid):
    assert detect(doc_of(HV / "transcript" / f"{sid}.json")).name == "harper_valley"
    assert detect(doc_of(HV / "metadata" / f"{sid}.json")).name == "harper_valley"


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_no_other_reader_claims_a_fixture_as_strongly(path):
    """Sniffers are precise: the right reader wins by content alone, not by order or suffix."""
    doc = doc_of(path)
    right = detect(doc)
    right_score = right.sniff(doc)
    for r in READERS:
        if r is not right:
            assert r.sniff(doc) < right_score, f"{r.name} scores {r.sniff(doc)} on {path.name}"


def test_detection_does_not_need_the_suffix(tmp_path):
    for name, fmt in FIXTURES.items():
        data = (FMT / name).read_bytes()
        assert detect(Document("upload.bin", data)).name == fmt, name


def test_all_formats_registered_specific_before_generic():
    names = reader_names()
    for fmt in ("vtt", "srt", "csv", "aws_transcribe", "contact_lens", "deepgram", "assemblyai", "whisper",
                "google_ccai", "genesys", "twilio", "harper_valley"):
        assert names.index(fmt) < names.index("native") < names.index("text")


def test_format_option_forces_a_reader():
    # a WebVTT file forced through the SRT reader is read by SRT rules (here: it fails, naming SRT's complaint)
    with pytest.raises(ValueError, match="cue number"):
        read_call(FMT / "call.vtt", format="srt")
    # a CSV forced as text is read as text: there are no 'Speaker:' lines
    with pytest.raises(ValueError, match="Speaker"):
        read_call(FMT / "calls.csv", format="text")
    # forcing the right reader works, whatever the suffix says
    call = read_call(FMT / "whisperx.json", format="whisper")
    assert call.metadata["format"] == "whisper"


def test_unknown_json_is_a_clear_error():
    with pytest.raises(ReaderError, match="unrecognised JSON"):
        detect(Document("x.json", b'{"hello": "world"}'))


# ---- WebVTT -----------------------------------------------------------------------------------
def test_vtt_fixture():
    call = read_call(FMT / "call.vtt")
    assert call.id == "call"
    assert rows(call) == [
        ("Dana", A, "Thank you for calling Northfield Bank, this is Dana. How can I help you today?", 0.5, 4.9),
        ("Sam Okafor", C, "Hi, I'm calling because my card was declined twice this morning.", 5.4, 9.1),
        ("Dana", A, "I'm sorry about that. Can I get your postcode & date of birth?", 9.6, 12.0),
        ("Sam Okafor", C, "Sure, it's LS6 2AB, 4th of May.", 12.5, 14.0),
        ("Dana", A, "Thanks. I can see a fraud block on the card; I've removed it now.", 12.5, 17.8),
        ("Sam Okafor", C, "Great, thanks for your help.", 18.2, 20.0),
    ]
    assert call.roles.method == "inferred" and call.roles.agent_speakers == ("Dana",)


def test_vtt_note_style_region_and_ids_are_not_text():
    call = read_call(FMT / "call.vtt")
    text = " ".join(call.texts)
    for junk in ("NOTE", "::cue", "width:40%", "intro-3", "align:start", "<v", "</v>", "&amp;"):
        assert junk not in text


def test_vtt_consecutive_cues_of_one_speaker_merge_unlabelled_stay_apart():
    vtt = (b"WEBVTT\n\n00:01.000 --> 00:02.000\n<v Agent>One.\n\n00:02.000 --> 00:03.000\n<v Agent>Two.\n\n"
           b"00:03.000 --> 00:04.000\nno label a\n\n00:04.000 --> 00:05.000\nno label b\n\n"
           b"00:05.000 --> 00:06.000\n<v Caller>Three</v>\n")
    raw = list(get_reader("vtt").read(Document("x.vtt", vtt)))[0]
    assert [(t.speaker, t.text, t.start, t.end) for t in raw.turns] == [
        ("Agent", "One. Two.", 1.0, 3.0),
        ("unknown", "no label a", 3.0, 4.0),
        ("unknown", "no label b", 4.0, 5.0),
        ("Caller", "Three", 5.0, 6.0),
    ]
    assert [t.role for t in raw.turns] == [A, None, None, C]


def test_vtt_bad_timing_names_the_line():
    with pytest.raises(ReaderError) as e:
        list(get_reader("vtt").read(Document("x.vtt", b"WEBVTT\n\n00:01.000 --> soon\nhello\n")))
    assert e.value.line == 3


# ---- SRT --------------------------------------------------------------------------------------
def test_srt_fixture():
    call = read_call(FMT / "call.srt")
    assert rows(call) == [
        ("SPEAKER_00", A, "Thanks for calling Horizon Mobile, my name is Leo. How can I help you today?", 0.48, 5.2),
        ("SPEAKER_01", C, "Hi, I was charged twice for my bill this month.", 5.8, 9.3),
        ("SPEAKER_00", A, "Let me check your account. Can I have your date of birth?", 9.9, 13.4),
        ("SPEAKER_01", C, "Yes, 12th of March 1990.", 13.9, 15.1),
        ("SPEAKER_00", A, "I can see the double charge, I'll refund it today.", 15.6, 19.2),
        ("SPEAKER_01", C, "Perfect, thank you so much.", 19.7, 21.0),
    ]


def test_srt_prefix_forms_and_no_prefix():
    srt = ("1\n00:00:01,000 --> 00:00:02,000\nDana: Hello there.\n\n"
           "2\n00:00:02,500 --> 00:00:03,000\n[SPEAKER_01] Hi.\n\n"
           "3\n00:00:03,500 --> 00:00:04,000\nno speaker here\nsecond line\n\n"
           "4\n00:00:04,500 --> 00:00:05,000\n<font color=\"red\">also none</font>\n")
    raw = list(get_reader("srt").read(Document("x.srt", srt.encode())))[0]
    assert [(t.speaker, t.text) for t in raw.turns] == [
        ("Dana", "Hello there."), ("SPEAKER_01", "Hi."),
        ("unknown", "no speaker here second line"), ("unknown", "also none"),
    ]


# ---- CSV / TSV --------------------------------------------------------------------------------
def test_csv_many_calls_grouped_by_id_in_first_seen_order():
    calls = read_calls(FMT / "calls.csv")
    assert [c.id for c in calls] == ["c-1001", "c-1002"]
    assert [c.source for c in calls] == [f"{FMT / 'calls.csv'}:2", f"{FMT / 'calls.csv'}:4"]
    assert rows(calls[0]) == [
        ("agent", A, "Thank you for calling Northfield Bank, this is Dana. How can I help?", 0.5, 3.9),
        ("customer", C, "Hi, my card was declined twice today.", 4.2, 6.8),
        ("agent", A, "I'm sorry about that, let me check the account for you.", 7.1, 9.9),
        ("customer", C, "Thanks, that's great.", 10.3, 11.5),
    ]
    assert rows(calls[1])[3] == ("customer", C, "It's 04512.", 7.4, 8.6)
    assert calls[0].roles.method == "format"


def test_tsv_sniffed_with_millisecond_columns():
    call = read_call(FMT / "calls.tsv")
    assert call.id == "t-77"
    assert rows(call) == [
        ("Agent", A, "Thanks for calling Horizon Mobile, how can I help?", 0.5, 3.1),
        ("Caller", C, "Hi, I want to cancel my contract.", 3.6, 5.9),
        ("Agent", A, "I can help with that. Can I ask why you want to leave?", 6.4, 9.8),
        ("Caller", C, 'It is too expensive, "honestly".', 10.2, 12.0),
    ]


def test_csv_columns_mapping_and_timecodes():
    data = b"Ticket;Who;Said;From\nk1;spk_0;Thanks for calling, how can I help?;00:00:01.5\nk1;spk_1;My order is late.;00:00:04\n"
    doc = Document("odd.csv", data)
    assert CsvReader().sniff(doc) == 0.0  # no column name we know for the text
    reader = CsvReader(columns={"text": "Said", "speaker": "Who", "call_id": "Ticket", "start": "From"})
    assert reader.sniff(doc) > 0
    (raw,) = list(reader.read(doc))
    assert raw.call_id == "k1" and raw.line == 2
    assert [(t.speaker, t.text, t.start) for t in raw.turns] == [
        ("spk_0", "Thanks for calling, how can I help?", 1.5), ("spk_1", "My order is late.", 4.0)]


def test_csv_single_call_without_id_column():
    (raw,) = list(CsvReader().read(Document("one.csv", b"speaker,text\nagent,Hello\ncustomer,Hi\n")))
    assert raw.call_id is None and raw.line is None and [t.role for t in raw.turns] == [A, C]


def test_csv_row_without_text_names_the_line():
    data = b'call_id,speaker,text\nc1,agent,"Hello,\nthere"\nc1,customer,\n'
    with pytest.raises(ReaderError) as e:
        list(CsvReader().read(Document("bad.csv", data)))
    assert e.value.line == 4 and "line 4" in str(e.value) and "no text" in str(e.value)


def test_csv_column_errors():
    with pytest.raises(ReaderError, match="'utterance'.*not in the header"):
        list(CsvReader(columns={"text": "utterance"}).read(Document("a.csv", b"speaker,words\na,b\n")))
    with pytest.raises(ReaderError, match="unknown --csv-column name 'txt'"):
        list(CsvReader(columns={"txt": "words"}).read(Document("a.csv", b"speaker,words\na,b\n")))


# ---- Amazon Transcribe ------------------------------------------------------------------------
AWS_TURNS = [
    ("Thank you for calling Northfield Bank, this is Dana. How can I help you today?", 0.5, 5.7),
    ("Hi, I'm calling about a charge on my card that I don't recognise.", 6.35, 10.85),
    ("I'm sorry about that. Can I get your date of birth to verify the account?", 11.5, 16.7),
    ("Sure, it's the fourth of May, 1986.", 17.35, 19.75),
    ("Thank you. I can see the charge, let me raise a dispute for you.", 20.4, 25.25),
    ("Great, thanks for your help.", 25.9, 27.6),
]


@pytest.mark.parametrize("name", ["aws_transcribe_speakers.json", "aws_transcribe_segments.json"])
def test_aws_speaker_mode(name):
    call = read_call(FMT / name)
    assert call.id in ("aws-call-0001", "aws-call-0003")
    expect = [("spk_0" if i % 2 == 0 else "spk_1", A if i % 2 == 0 else C, t, s, e)
              for i, (t, s, e) in enumerate(AWS_TURNS)]
    assert rows(call) == expect
    assert call.roles.method == "inferred" and call.roles.agent_speakers == ("spk_0",)


def test_aws_old_output_without_speaker_label_on_items():
    obj = json.loads((FMT / "aws_transcribe_speakers.json").read_text())
    for it in obj["results"]["items"]:
        it.pop("speaker_label", None)
        it.pop("id", None)
    (raw,) = list(get_reader("aws_transcribe").read(Document("old.json", json.dumps(obj).encode())))
    assert [t.text for t in raw.turns] == [t for t, _, _ in AWS_TURNS]
    assert [t.speaker for t in raw.turns] == ["spk_0", "spk_1"] * 3


def test_aws_channel_mode_sets_channels():
    call = read_call(FMT / "aws_transcribe_channels.json")
    assert call.id == "aws-call-0002"
    expect = [("ch_1" if i % 2 == 0 else "ch_0", A if i % 2 == 0 else C, t, s, e)
              for i, (t, s, e) in enumerate(AWS_TURNS)]
    assert rows(call) == expect
    (raw,) = list(get_reader("aws_transcribe").read(doc_of(FMT / "aws_transcribe_channels.json")))
    assert raw.channels == {"ch_0": "ch_0", "ch_1": "ch_1"}
    # the user's channel mapping wins over inference, even against the text
    forced = read_call(FMT / "aws_transcribe_channels.json", agent_speakers=("ch_0",))
    assert forced.roles.method == "user" and forced.turns[1].role == A and forced.turns[0].role == C


def test_aws_failed_job_is_an_error():
    obj = {"jobName": "j", "status": "FAILED", "results": {"transcripts": [], "items": []}}
    with pytest.raises(ReaderError, match="FAILED"):
        list(get_reader("aws_transcribe").read(Document("f.json", json.dumps(obj).encode())))


# ---- Call Analytics / Contact Lens -------------------------------------------------------------
def test_call_analytics_roles_from_participant_role():
    call = read_call(FMT / "call_analytics.json")
    assert call.id == "ca-job-lost-card-0007"
    assert call.roles.method == "format" and call.roles.confidence == 1.0
    assert rows(call) == [
        ("agent", A, "Thank you for calling Northfield Bank, my name is Dana. How can I help you?", 0.44, 4.96),
        ("customer", C, "Hi, I think I lost my debit card or it was stolen.", 6.04, 11.65),
        ("agent", A, "I'm very sorry to hear that. May I ask who I'm speaking with?", 12.04, 15.23),
        ("customer", C, "Yeah, this is [PII].", 16.84, 18.46),
        ("agent", A, "Thank you. I've blocked the card and ordered a new one for you.", 19.1, 23.48),
    ]
    assert call.metadata["variant"] == "call_analytics"


def test_contact_lens_roles_from_participants_and_contact_id():
    call = read_call(FMT / "contact_lens.json")
    assert call.id == "8f3c2a10-7b9e-4d3c-a1f2-6e5d4c3b2a19"
    assert call.roles.method == "format"
    assert [(t.speaker, t.role) for t in call.turns] == [("agent", A), ("customer", C)] * 3
    assert rows(call)[4] == ("agent", A, "That sounds very bad. I can offer a 20% discount to make you stay with us.",
                             11.22, 15.21)
    assert call.metadata["variant"] == "contact_lens" and call.metadata["InstanceId"].startswith("0a1b")


def test_contact_lens_opaque_participant_ids():
    obj = json.loads((FMT / "contact_lens.json").read_text())
    ids = {"AGENT": "f36a545d-67b2-4fd4-89fb-896136b609a7", "CUSTOMER": "e9b36a6d-12aa-4c21-9745-1881648ecfc8"}
    obj["Participants"] = [{"ParticipantId": v, "ParticipantRole": k} for k, v in ids.items()]
    for t in obj["Transcript"]:
        t["ParticipantId"] = ids[t["ParticipantId"]]
    (raw,) = list(get_reader("contact_lens").read(Document("x.json", json.dumps(obj).encode())))
    assert [t.role for t in raw.turns] == [A, C] * 3


# ---- Deepgram ---------------------------------------------------------------------------------
DG_TEXT = [
    "Good morning, you're through to Acme Energy, my name is Priya. How may I help?",
    "Hello, I'm calling because my bill went up a lot this month.",
    "Let me check that for you. Can I have the account number, please?",
    "It's 4417 2093.",
    "Thanks. I can see an estimated reading; I'll update it with the real one.",
    "That's great, thank you so much.",
    "You're welcome. Is there anything else I can help with today?",
]


def test_deepgram_utterances():
    call = read_call(FMT / "deepgram.json")
    assert call.id == "deepgram"  # the file stem, not the opaque request_id
    assert call.metadata["request_id"] == "a3c9e2f4-1b7d-4e0a-9c55-2f7e8d1b6a90"
    assert [t.text for t in call.turns] == DG_TEXT
    assert [t.speaker for t in call.turns] == ["speaker_0", "speaker_1"] * 3 + ["speaker_0"]
    assert (call.turns[0].start, call.turns[0].end) == (0.4, 5.3)
    assert call.roles.agent_speakers == ("speaker_0",)


def test_deepgram_words_fallback_groups_by_speaker():
    obj = json.loads((FMT / "deepgram.json").read_text())
    del obj["results"]["utterances"]
    (raw,) = list(get_reader("deepgram").read(Document("x.json", json.dumps(obj).encode())))
    assert [t.text for t in raw.turns] == DG_TEXT
    assert raw.turns[1].speaker == "speaker_1" and raw.turns[1].start == 6.05


def test_deepgram_multichannel_and_ids():
    obj = json.loads((FMT / "deepgram.json").read_text())
    del obj["results"]["utterances"]
    words = obj["results"]["channels"][0]["alternatives"][0]["words"]
    ch = [{"alternatives": [{"transcript": "", "words": [w for w in words if w["speaker"] == k]}]} for k in (0, 1)]
    for c in ch:
        for w in c["alternatives"][0]["words"]:
            del w["speaker"]
    obj["results"]["channels"] = ch
    obj["metadata"]["channels"] = 2
    obj["metadata"]["extra"] = {"call_id": "acme-77"}
    (raw,) = list(get_reader("deepgram").read(Document("x.json", json.dumps(obj).encode())))
    assert raw.call_id == "acme-77"
    assert [t.speaker for t in raw.turns][:3] == ["channel_0", "channel_1", "channel_0"]
    assert raw.channels == {"channel_0": "ch_0", "channel_1": "ch_1"}
    assert [t.text for t in raw.turns] == DG_TEXT


def test_deepgram_in_jsonl_uses_request_id(tmp_path):
    obj = json.loads((FMT / "deepgram.json").read_text())
    p = tmp_path / "batch.jsonl"
    p.write_text(json.dumps(obj) + "\n" + json.dumps({**obj, "metadata": {**obj["metadata"], "request_id": "r2"}}) + "\n")
    assert [c.id for c in read_calls(p)] == ["a3c9e2f4-1b7d-4e0a-9c55-2f7e8d1b6a90", "r2"]


# ---- AssemblyAI -------------------------------------------------------------------------------
def test_assemblyai_utterances_in_ms():
    call = read_call(FMT / "assemblyai.json")
    assert call.id == "6rlr37h8bz-1e8b-4f8e-9a3c-5d2e0b4c7a11"
    assert rows(call)[:2] == [
        ("A", C, "Hello?", 0.3, 0.58),
        ("B", A, "Hi, thanks for calling Brightline Internet, this is Marco. How can I help you?", 1.28, 5.85),
    ]
    assert [t.speaker for t in call.turns] == ["A", "B"] * 3 + ["A"]
    # the customer speaks first here: inference must not just take the first speaker
    assert call.roles.method == "inferred" and call.roles.agent_speakers == ("B",)


def test_assemblyai_not_completed_is_an_error():
    obj = {"id": "x", "status": "error", "error": "Download error", "audio_url": "u", "text": None, "words": []}
    with pytest.raises(ReaderError, match="status is 'error'.*Download error"):
        list(get_reader("assemblyai").read(Document("x.json", json.dumps(obj).encode())))


# ---- Whisper / WhisperX -----------------------------------------------------------------------
def test_whisper_plain_is_one_speaker_unknown():
    call = read_call(FMT / "whisper.json")
    assert rows(call) == [
        ("unknown", A, "Thanks for calling Northfield Bank, how can I help?", 0.0, 3.2),
        ("unknown", A, "Hi, I'd like to check my balance.", 3.6, 5.9),
        ("unknown", A, "Of course, can I get your account number?", 6.3, 8.8),
    ]
    assert call.roles.method == "default" and call.metadata["language"] == "en"


def test_whisperx_speakers_merged_and_taken_from_words():
    call = read_call(FMT / "whisperx.json")
    assert rows(call) == [
        ("SPEAKER_00", A, "Hello, you're through to Acme Energy. How may I help you today?", 0.031, 4.874),
        ("SPEAKER_01", C, "Hi, I'm calling about a payment that went out twice.", 5.315, 8.296),
        ("SPEAKER_00", A, "I'm sorry about that, let me check the account for you.", 8.797, 11.62),
        ("SPEAKER_01", C, "Thank you so much.", 12.061, 13.402),
    ]


# ---- Google CCAI ------------------------------------------------------------------------------
def test_ccai_entries_relative_microsecond_times():
    call = read_call(FMT / "google_ccai_entries.json")
    assert call.roles.method == "format"
    assert rows(call) == [
        ("automated_agent", A, "Hello, you've reached Acme Energy. I'm the virtual assistant.", 0.0, 4.5),
        ("customer", C, "Hi, I'm calling in regards to a bill that looks too high.", 4.5, 10.25),
        ("agent", A, "Thanks for waiting, this is Priya. I can look into that bill for you.", 10.25, 17.0),
        ("customer", C, "Great, thank you.", 17.0, None),
    ]
    assert call.metadata["categories"] == ["Billing"]


def test_ccai_conversation_resource_segments_and_channels():
    call = read_call(FMT / "google_ccai_conversation.json")
    assert call.id == "7309126484325683731"
    assert rows(call) == [
        ("human_agent", A, "thank you for calling acme energy how can i help", 0.4, 2.7),
        ("end_user", C, "hi my bill is much higher than usual", 3.1, 5.3),
        ("human_agent", A, "let me check that for you", 5.9, 7.1),  # role from callMetadata.agentChannel
    ]


# ---- Genesys ----------------------------------------------------------------------------------
def test_genesys_purposes_ivr_and_merging():
    call = read_call(FMT / "genesys.json")
    assert call.id == "9b1f2e63-4c1a-4d8e-a0b7-3e5f6c7d8e91"
    assert call.roles.method == "format"
    assert rows(call) == [
        ("ivr", A, "thank you for calling northfield bank calls may be recorded", 1.0, 3.5),
        ("internal", A, "hi this is dana how can i help you today", 5.0, 7.2),
        ("external", C, "hello i'm calling about a payment i don't recognise it was about forty pounds", 8.0, 13.0),
        ("internal", A, "let me check that for you", 14.0, 15.5),
    ]


def test_genesys_offsets_when_no_absolute_times():
    obj = json.loads((FMT / "genesys.json").read_text())
    for ph in obj["transcripts"][0]["phrases"]:
        del ph["startTimeMs"]
    (raw,) = list(get_reader("genesys").read(Document("g.json", json.dumps(obj).encode())))
    assert [(t.start, t.end) for t in raw.turns] == [(0.0, 2.5), (4.0, 6.2), (7.0, 12.0), (13.0, 14.5)]


# ---- Twilio -----------------------------------------------------------------------------------
def test_twilio_list_response_inferred_roles_and_channels():
    call = read_call(FMT / "twilio_sentences.json")
    assert call.id == "GT4c2a9e81b7d0f3a6c5e4d3c2b1a09f8e"
    assert rows(call) == [
        ("channel_2", A, "Thanks for calling Horizon Mobile, my name is Leo. How can I help you today?", 0.48, 4.9),
        ("channel_1", C, "Hi, I'm calling because I was charged twice this month.", 5.4, 8.7),
        ("channel_2", A, "I'm sorry about that, let me check your account.", 9.2, 12.5),
        ("channel_1", C, "Thank you so much.", 13.0, 14.1),
    ]
    assert call.roles.method == "inferred"
    assert read_call(FMT / "twilio_sentences.json", agent_speakers=("ch_1",)).turns[1].role == A


def test_twilio_transcript_resource_roles_from_participants():
    call = read_call(FMT / "twilio_transcript.json")
    assert call.id == "GT7d1e0c9b8a7f6e5d4c3b2a1908f7e6d5"
    assert call.roles.method == "format"
    assert [(t.speaker, t.role) for t in call.turns] == [("channel_1", C), ("channel_2", A)] * 2


def test_twilio_bare_list_sorted_by_index():
    sents = json.loads((FMT / "twilio_sentences.json").read_text())["sentences"][::-1]
    (raw,) = list(get_reader("twilio").read(Document("s.json", json.dumps(sents).encode())))
    assert raw.call_id is None and raw.turns[0].text.startswith("Thanks for calling")


# ---- Harper Valley ----------------------------------------------------------------------------
def test_harper_valley_turns_tokens_and_dialog_acts():
    call = read_call(HV / "transcript" / "0002f70f7386445b.json")
    assert call.id == "0002f70f7386445b"
    assert call.roles.method == "format"
    assert len(call.turns) == 17  # 18 segments, the last is only '[noise]'
    assert rows(call)[:4] == [
        ("agent", A, "hello this is harper valley national bank", 3.72, 6.39),
        ("agent", A, "my name is elizabeth", 6.89, 8.03),
        ("agent", A, "how can i help you today", 8.52, 9.75),
        ("caller", C, "hi", 12.89, 13.22),
    ]
    acts = call.metadata["dialog_acts"]
    assert len(acts) == len(call.turns)
    assert acts[0] == ["gridspace_greeting"]
    assert acts[-1] == ["gridspace_filler_disfluency", "gridspace_closing"]  # 'bye', not the '[noise]' segment
    assert call.turns[-1].text == "bye"


def test_harper_valley_strips_unk_and_noise_and_uses_offset_ms():
    call = read_call(HV / "transcript" / "010d38f5ada54e0d.json")
    assert call.turns[1].text == "hi my name is james miller i would like to check my account balance"
    assert call.turns[2].text == "of course and which account would you like to check"
    for t in call.turns:
        assert "[" not in t.text and "<" not in t.text
    call = read_call(HV / "transcript" / "00f7dce6fc3849a2.json")
    starts = [t.start for t in call.turns]
    assert starts == sorted(starts)  # offset_ms keeps index order in time; start_ms would not
    assert call.turns[5].start == 25.02 and call.turns[5].end == 29.37


def test_harper_valley_asr_text_option():
    reader = HarperValleyReader(text="asr")
    (raw,) = list(reader.read(doc_of(HV / "transcript" / "0002f70f7386445b.json")))
    assert raw.turns[0].text == "hello mr harper valley national bank"
    assert raw.metadata["transcript"] == "asr" and len(raw.metadata["dialog_acts"]) == len(raw.turns)


def test_harper_valley_metadata_file_is_skipped_with_a_warning():
    items = list(CallReader().iter([HV / "transcript", HV / "metadata"]))
    calls = [i for i in items if isinstance(i, Call)]
    warns = [i for i in items if not isinstance(i, Call)]
    assert sorted(c.id for c in calls) == sorted(HV_IDS)
    assert len(warns) == 3 and all(w.level == "warning" and "metadata" in w.reason for w in warns)


# ---- round trip to native JSON ----------------------------------------------------------------
def _full_text(path: Path) -> str | None:
    """The vendor's own full transcript, where the format has one."""
    obj = json.loads(path.read_text()) if path.suffix == ".json" else None
    if not isinstance(obj, dict):
        return None
    if "results" in obj and "transcripts" in obj["results"]:
        return obj["results"]["transcripts"][0]["transcript"]
    if "results" in obj and "channels" in obj["results"]:
        return obj["results"]["channels"][0]["alternatives"][0]["transcript"]
    if "utterances" in obj or ("segments" in obj and "text" in obj):
        return obj["text"]
    return None


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_round_trip_to_native_keeps_every_word_and_role(path, tmp_path):
    calls = read_calls(path)
    assert calls
    native = NativeReader()
    for call in calls:
        obj = call.to_native()
        out = tmp_path / f"{call.id.replace('/', '_')}.json"
        out.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
        (raw,) = list(native.read(doc_of(out)))
        back = build_call(raw, raw.call_id, str(out))
        assert back.id == call.id
        assert rows(back) == rows(call)
        assert back.roles.method == "format"  # the roles are now written down
        assert words(" ".join(back.texts)) == words(" ".join(call.texts))
    full = _full_text(path)
    if full is not None:
        assert words(" ".join(calls[0].texts)) == words(full)


# ---- role resolution --------------------------------------------------------------------------
@pytest.mark.parametrize("name,agent", [
    ("aws_transcribe_speakers.json", "spk_0"),
    ("assemblyai.json", "B"),
    ("call.srt", "SPEAKER_00"),
    ("whisperx.json", "SPEAKER_00"),
    ("deepgram.json", "speaker_0"),
    ("call.vtt", "Dana"),
])
def test_inference_finds_the_agent_among_generic_speakers(name, agent):
    call = read_call(FMT / name)
    assert call.roles.method == "inferred"
    assert call.roles.agent_speakers == (agent,)
    assert call.roles.confidence >= 0.9
    assert all((t.role == A) == (t.speaker == agent) for t in call.turns)


@pytest.mark.parametrize("name,override", [
    ("aws_transcribe_speakers.json", "spk_1"), ("assemblyai.json", "a"), ("call.srt", "speaker_01"),
])
def test_agent_speaker_option_overrides_inference(name, override):
    call = read_call(FMT / name, agent_speakers=(override,))
    assert call.roles.method == "user" and call.roles.confidence == 1.0
    assert all((t.role == A) == (t.speaker.lower() == override.lower()) for t in call.turns)


def test_agent_speaker_option_overrides_format_roles():
    call = read_call(FMT / "call_analytics.json", agent_speakers=("customer",))
    assert call.roles.method == "user" and call.turns[0].role == C and call.turns[1].role == A


def test_unmatched_agent_speaker_falls_back_and_says_so():
    call = read_call(FMT / "aws_transcribe_speakers.json", agent_speakers=("spk_9",))
    assert call.roles.method == "inferred" and "spk_9" in call.roles.note


def test_only_the_customer_named_makes_the_other_speaker_the_agent():
    raw = RawCall(call_id="x", turns=[
        RawTurn("channel_1", "Hello? Thank you for calling, how can I help?", role=C),
        RawTurn("channel_2", "Hi, I'm calling about my bill."),
    ])
    roles, how = resolve_roles(raw)
    assert roles == [C, A] and how.agent_speakers == ("channel_2",)
