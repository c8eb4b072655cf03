"""Speech: the words debtors hear (wording), prompt audio rendered ahead of calls
(tts, manifest, prompt_texts), personal audio rendered at claim time (personal,
call_audio), served to the carrier (web), and live speech recognition (asr)."""
