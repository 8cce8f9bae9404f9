"""Which chunks read as a paper's reference list: the styles journals print them in, and the prose that must
not be taken for one."""

from __future__ import annotations

import pytest

from paperlens.retrieve.reference_lists import is_reference_list

NATURE = (
    "44. Mukhopadhyay, R., Jia, J., Arif, A., Ray, P. S. & Fox, P. L. The GAIT system: a gatekeeper of "
    "inflammatory gene expression. Trends Biochem. Sci. 34, 324–331 (2009). 45. Clarke, H. F. et al. "
    "Regional inactivations of primate ventral prefrontal cortex reveal two distinct mechanisms underlying "
    "negative emotion. Cereb. Cortex 25, 2018–2030 (2015). 46. Mellman, I., Coukos, G. & Dranoff, G. Cancer "
    "immunotherapy comes of age. Nature 480, 480–489 (2011)."
)
VANCOUVER = (
    "16. Shi J, Zhao Y, Wang K, Shi X, Wang Y, Huang H, et al. Cleavage of GSDMD by inflammatory caspases "
    "determines pyroptotic cell death. Nature. 2015; 526: 660-5. 17. Liu X, Zhang Z, Ruan J, Pan Y, Magupalli "
    "VG, Wu H, et al. Inflammasome-activated gasdermin D causes pyroptosis by forming membrane pores. Nature. "
    "2016; 535: 153-8. 18. Das S, Miller M, Beppu AK, Mueller J. GSDMB induces an asthma phenotype. 2020."
)
APA = (
    "Dowling, C. A., Melzer, R., and Schilling, S. (2021). Timing is everything: the genetics of flowering time "
    "in Cannabis sativa. The Biochemist 43, 34–38. Kovalchuk, I., Pellino, M., Rigault, P., van Velzen, R., "
    "Ebersbach, J., Ashnest, J. R., et al. (2020). The Genomics of Cannabis and Its Close Relatives. Annu. Rev. "
    "Plant Biol. 71, 713–739. Villanueva, R. A. M., and Chen, Z. J. (2019). ggplot2: Elegant Graphics."
)
AUTHOR_YEAR_PROSE = (
    "The microdomain is built mainly by sphingomyelin and cholesterol (Brown and London, 1998; Simons and "
    "Ikonen, 1997). By differential participation of proteins and lipids, microdomains are believed to sort "
    "cargo (Marks et al., 2009; Laverty et al., 2019; Welling et al., 2020), although additional areas of the "
    "genome also control these pathways (Hayes et al., 2007; Chung et al., 2012)."
)
SURVEY_PROSE = (
    "Between 2008 and 2016 the share of adults who said the economy was the top issue fell from 87% to 64%. "
    "In 2012, 2014 and 2016 Republicans and Democrats differed by about 20 points; in 2018 the gap grew to 31 "
    "points, the widest in surveys since 1994. Dr. J. Smith of the Center said the trend continued in 2019."
)


@pytest.mark.parametrize("text", [NATURE, VANCOUVER, APA], ids=["nature", "vancouver", "apa"])
def test_printed_reference_lists_are_recognised_by_their_text(text):
    assert is_reference_list(text, section=None)
    assert is_reference_list(f"[Discussion] {text}", section="Discussion")  # under a wrong heading too


@pytest.mark.parametrize("text", [AUTHOR_YEAR_PROSE, SURVEY_PROSE], ids=["author-year-citations", "years"])
def test_prose_with_citations_or_years_is_not_a_reference_list(text):
    assert not is_reference_list(text, section="Results")


@pytest.mark.parametrize(
    "section", ["References", "REFERENCES", "References and Notes:", "Literature cited", "Bibliography"]
)
def test_a_reference_section_title_is_enough(section):
    assert is_reference_list("Some entries the text test would not catch.", section=section)


def test_a_section_that_merely_mentions_references_is_not_one():
    assert not is_reference_list(SURVEY_PROSE, section="References to the 2016 survey in the press")
    assert not is_reference_list("Smith J, 2020.", section=None)  # two names do not make a list
