import yaml

from assistant.text.glossary import GLOSSARY_FILE, Glossary, default_glossary

REQUIRED = ("APA PCH AAH MDPH CDAPH GIR AGGIR GEVA PPC ESSMS EHPAD SAAD SSIAD SPASAD CNSA ARS CASF ASH RQTH AEEH MTP "
            "ESAT FAM MAS SAVS SAMSAH IME CLIC MAIA DAC CODERPA CDCPH CCAS CPOM GMP ACTP PAG").split()


def test_glossary_file_is_valid_and_complete():
    raw = yaml.safe_load(GLOSSARY_FILE.read_text(encoding="utf-8"))
    assert all({"sigle", "forme"} <= set(entry) for entry in raw)
    glossary = default_glossary()
    missing = [a for a in REQUIRED if glossary.lookup(a) is None]
    assert missing == []


def test_acronym_expands_to_full_wording_and_back():
    glossary = default_glossary()
    expansion = glossary.expand("Quels GIR ouvrent droit à l'APA ?")
    assert "allocation personnalisée d'autonomie" in expansion.added
    assert "groupe iso-ressources" in expansion.added
    assert expansion.changed and "allocation personnalisée d'autonomie" in expansion.expanded_query
    back = glossary.expand("la prestation de compensation du handicap à domicile")
    assert back.added == ("PCH",)


def test_short_acronyms_need_capitals_and_plain_words_are_untouched():
    glossary = default_glossary()
    assert glossary.expand("le cd 59").added == ()
    assert glossary.expand("un mas en Provence, elle a dit").added == ()  # MAS, EA: only in capitals
    assert set(glossary.expand("Orientation en MAS ou en FAM ?").added) == {"maison d'accueil spécialisée", "foyer d'accueil médicalisé"}
    assert glossary.expand("Le CD du Nord").added[0] == "conseil départemental"
    assert not glossary.expand("une question sans sigle").changed


def test_duplicates_are_rejected():
    from assistant.text.glossary import GlossaryEntry

    try:
        Glossary([GlossaryEntry("APA", "a"), GlossaryEntry("APA", "b")])
    except ValueError as exc:
        assert "double" in str(exc)
    else:
        raise AssertionError("duplicate acronyms accepted")
