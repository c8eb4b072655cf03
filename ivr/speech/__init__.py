"""Speech: the words debtors hear (wording), prompt audio rendered ahead of calls
(tts, manifest, personal) and live speech recognition (asr)."""
