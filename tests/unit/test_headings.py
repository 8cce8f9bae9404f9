"""What set-apart text can be a section title: real headings in their many styles, and the large or bold
text that is not one (author lists, panel letters, broken lines)."""

from __future__ import annotations

import pytest

from paperlens.ingest.headings import can_be_section_title, reads_as_author_list


@pytest.mark.parametrize(
    "text",
    [
        "Introduction",
        "2.3 Materials and Methods",
        "Results and Discussion",
        "RESULTS",
        "GSDMD",
        "Highly active transposons and discrimination of all SWO cultivars",
        "A. baumannii readily evolved resistance to meropenem",
        "piRNA biogenesis in silkworm cells",
        "Appendix A. Proofs",
        "Part I. Methods, Data and Code",
        "Sweet Orange, Mandarin and Pummelo",
        "References and Notes:",
        "36%",  # a slide's headline figure
        "2015",
        "Supplementary Figures",
        "Figure Legends",
        "Tables and Figures",
    ],
)
def test_headings_of_every_style_are_kept(text):
    assert can_be_section_title(text)


@pytest.mark.parametrize(
    "text",
    [
        "f g",
        "*** ***",
        "χ-Φ-G-Φ",
        "FL",
        "We next sought to use computational modeling to show that the closed-ring hex-",
        "fibroblasts.",
        "Fig. 2 Protein-protein docking studies reveal differences in interactions",
        "Fig EV3. Construction of the piR484-A reporter system",
        "Supplementary Figure 6. Generation of the snog1a complementation line. A)",
        "Table S3. Mutations in non-genic regions investigated in the study.",
        "FIGURE 4 | Gasdermin D pores",
    ],
)
def test_panel_letters_symbols_broken_lines_and_captions_are_not_headings(text):
    assert not can_be_section_title(text)


@pytest.mark.parametrize(
    "text",
    [
        "Sam Cox and Andrew D. White*",
        "Satoko Amemori1,2,4, Ann M. Graybiel 3 & Ken-ichi Amemori 1,4",
        "Bangjun Zhou1,2, Huihui Yu1,2, Yong Xue1,2, Mu Li1,2, Chi Zhang1,2 & Bin Yu 1,2",
        "Alfa Dhakal1†, Chinnu Salim2†, Mary Skelly2, Ayelet T. Lamm3 and Heather A. Hundley2*",
        "Okamoto, T., Schlegel, A., Scherer, P. E. and Lisanti, M. P. (1998).",
        "Ana de la Cruz1, Ludwig van Beethoven2",
    ],
)
def test_author_lists_are_not_headings(text):
    assert reads_as_author_list(text)
    assert not can_be_section_title(text)


def test_title_case_headings_have_the_shape_of_names_but_no_marks():
    assert not reads_as_author_list("Materials and Methods")
    assert not reads_as_author_list("Data Collection, Cleaning and Analysis")
    assert not reads_as_author_list("Jane Q. Smith")  # one name, no list: too little to tell
    assert not reads_as_author_list("Experiment 1 and Experiment 2")
    assert not reads_as_author_list("COVID19, Influenza and RSV")
    assert not reads_as_author_list("Internet Users, Source Profile Indonesia, December2012")
