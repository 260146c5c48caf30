"""Closed word classes the parser reasons with (all lower case, surface forms).

These sets steer actor/entity extraction and negation; the label phrases live in
``lexicon_product`` and ``lexicon_tech``.
"""

from __future__ import annotations

from typing import Final

from grump.intent.phrases import split_words as _words

# Turn a requirement off: "no login", "without ads", "doesn't need accounts".
NEGATORS: Final = _words(
    "no not without never dont doesnt didnt isnt arent wont cant cannot shouldnt "
    "mustnt neednt hasnt havent hadnt wasnt werent wouldnt couldnt nor neither none non nothing"
)

# After a label: "login not needed", "accounts are unnecessary", "ad-free".
POST_NEGATION_WORDS: Final = _words("unnecessary unneeded")
POST_NEGATION_LEADS: Final = _words("not isnt arent wont dont doesnt")
NEED_WORDS: Final = _words(
    "needed required necessary wanted supported planned allowed permitted a part in"
)

# End a negation's scope early: "no login but payments".
SCOPE_BREAKERS: Final = _words(
    "but however though although except instead only just yet while whereas rather "
    "and also plus with"
)

MODALS: Final = _words(
    "can could should must will would may might shall cannot cant needs need wants "
    "want wishes gets get is are has have"
)

DETERMINERS: Final = _words(
    "a an the this that these those each every all any some my your our their his "
    "her its one two three four five several multiple many more most other another "
    "own new existing registered logged anonymous individual specific particular "
    "same different various certain few both single"
)

# Words after which a person noun is the one acting: "where buyers ...", "lets teachers ...".
ACTOR_TRIGGERS: Final = _words(
    "where when so that which lets let allow allows allowing enable enables enabling "
    "help helps helping for and or but while whereas if whether between among by "
    "who then also"
)

PREPOSITIONS: Final = _words(
    "on in at to from by of into onto about via using with without for over under "
    "through across per as like than after before during within between among "
    "against toward towards upon inside outside"
)

STOPWORDS: Final = (
    _words(
        "i me we us you he she it they them him her its our your their my mine ours "
        "is are was were be been being am do does did doing done have has had having "
        "will would shall should can could may might must need needs "
        "and or but if then else so because since until unless while whereas though "
        "although also too very just only even still already again ever "
        "what which who whom whose how why where when there here that this these those "
        "a an the some any each every all both either neither no not nor none "
        "up down out off over under more most less least much many few lot lots "
        "such own same other another than as etc eg ie e g vs via per into onto "
        "able want wants like make makes let lets get gets use uses using used "
        "way ways thing things something anything everything nothing kind type "
        "yes ok okay please thanks well really quite rather simply simple basic "
        "s t d ll m re ve"
    )
    | PREPOSITIONS
    | DETERMINERS
    | NEGATORS
    | SCOPE_BREAKERS
    | _words("later soon now today always often sometimes usually yet again instead")
)

# Verbs whose object is something the software manages: "track expenses", "grade homework".
MANAGEMENT_VERBS: Final = _words(
    "create creates creating add adds adding edit edits editing update updates updating "
    "delete deletes deleting remove removes removing manage manages managing track "
    "tracks tracking store stores storing save saves saving organize organizes "
    "organise organises browse browses "
    "share shares sharing upload uploads uploading download downloads import imports "
    "export exports book books reserve reserves order orders buy buys purchase "
    "purchases sell sells rent rents rate rates review reviews grade grades post posts "
    "publish publishes schedule schedules assign assigns submit submits bookmark "
    "bookmarks favorite favorites favourite send sends receive receives write writes "
    "compose collect collects catalog catalogue monitor monitors enter "
    "enters view views search find finds follow follows comment "
    "comments archive archives complete completes invite invites split splits "
    "approve approves reject rejects take takes taking rename renames open opens "
    "summarize summarise "
    "summarizes summarises ingest ingests"
)

# Verbs that never start a noun run (skipped between a management verb and its object).
OTHER_VERBS: Final = _words(
    "click clicks press presses select selects choose chooses display displays show "
    "shows type types start stops stop pause reset set sets change changes hear "
    "hears play plays go goes come comes give gives put puts keep keeps "
    "try tries read reads close closes check checks allow allows provide "
    "provides build builds generate generates convert converts validate validates "
    "implement implements specify specifies define defines "
    "know replace arrange determine sync help make learn understand use need want get "
    "enable include contain require support handle perform calculate compute process "
    "return accept produce remember begin continue finish repeat apply move drag drop "
    "scroll hover paste copy clear fill load call invoke pass run execute test compare "
    "count match reach exceed appear happen become seem look feel hold turn work fix "
    "improve reduce increase decrease adjust modify customize customise configure toggle "
    "switch navigate visit join leave guess solve spell draw animate flip rotate "
    "highlight mark sort shuffle roll pick encode decode encrypt decrypt parse render "
    "refresh reload respond notify alert warn prompt ask tell inform explain describe "
    "obtain retrieve fetch display invite expire expose explore discover leverage "
    "access interact enter log logs"
)

# Nouns that name a person using the software (singular forms).
ACTOR_NOUNS: Final = _words(
    "user admin administrator superadmin customer client teacher student parent "
    "doctor patient nurse employee manager staff driver rider passenger buyer "
    "seller vendor merchant host guest owner member subscriber visitor reader "
    "author writer editor moderator player coach trainer athlete instructor tutor "
    "learner developer designer freelancer recruiter candidate applicant volunteer "
    "donor organizer organiser attendee speaker landlord tenant agent realtor courier "
    "chef cook diner shopper traveler traveller tourist photographer artist musician "
    "listener viewer fan follower creator influencer contributor reviewer approver "
    "operator technician mechanic contractor homeowner farmer vet veterinarian "
    "therapist clinician caregiver physician pharmacist lawyer accountant investor "
    "trader partner supplier distributor retailer employer worker teammate coworker "
    "colleague friend kid senior resident voter referee participant competitor "
    "sponsor advertiser publisher blogger podcaster streamer gamer librarian "
    "borrower patron professor lecturer researcher scientist analyst engineer "
    "dispatcher salesperson representative mentor mentee consumer roommate caller "
    "team household family community dentist surgeon pilot renter lender "
    "subscriber hr sysadmin maintainer tester approver buyer"
)

# Nouns that never count as an entity: too vague, a UI part, or the software itself.
GENERIC_NOUNS: Final = _words(
    "app application website site web page button screen field form window tab link "
    "icon menu input output text value result data information info detail thing "
    "stuff option way time feature functionality system tool platform service "
    "software program project solution product interface ui ux box bar panel area "
    "section part list item element content number amount name string character "
    "word letter line row column table view mode state step process action event "
    "user people person account login password email error warning "
    "confirmation success label layout design style color colour theme background "
    "size format version type kind example sample demo test code "
    "lot set group level back end front frontend backend database server "
    "api key id url path click key input field dropdown checkbox modal popup dialog "
    "video"
)

# Nouns that are kinds of software: "expense tracker", "recipe app" -> entity before it.
APP_HEADS: Final = _words(
    "app apps application applications tracker trackers manager managers planner "
    "planners organizer organiser catalog catalogue journal diary directory finder "
    "generator generators converter converters logger marketplace platform "
    "tool tools website site portal bot database editor viewer "
    "calculator timer clock counter shop store"
)

# Adjective, adverb and participle endings: "saved", "locally", "useful", "innovative"
# are not entities, except for these nouns.
NOT_NOUN_ENDINGS: Final = ("ed", "ing", "ly", "ful", "ive", "ous", "able", "ible", "less")
NOUNS_WITH_THOSE_ENDINGS: Final = _words(
    "booking rating listing setting meeting building wedding painting drawing recording "
    "reading posting earning saving feeling clothing pudding family supply reply assembly "
    "archive incentive objective detective executive representative alternative "
    "table cable label vegetable variable timetable"
)

# Suffixes that make an unknown word likely a person ("beekeeper", "dentist").
PERSON_SUFFIXES: Final[tuple[str, ...]] = ("er", "or", "ist", "ian", "ant", "ent")

# Nouns with those suffixes that are things, not people.
NOT_PERSONS: Final = _words(
    "server browser timer computer folder container counter parser scheduler router "
    "handler buffer printer scanner slider header footer marker filter layer adapter "
    "wrapper compiler provider tracker reminder number order letter paper water "
    "weather winter summer character chapter center centre register other either "
    "whether never ever under over after better later however together error color "
    "colour monitor sensor calculator generator indicator elevator simulator cursor "
    "selector motor door floor for or nor content component client event "
    "moment element document payment comment statement department environment "
    "percent current recent frequent different important present instant "
    "constant variant restaurant want ant giant elegant relevant "
    "pleasant significant tournament apartment equipment investment achievement "
    "requirement management development settlement entertainment announcement "
    "deployment engagement enrollment attachment shipment appointment assignment "
    "treatment improvement measurement movement argument instrument segment "
    "sentiment tournament experiment fragment ingredient gradient recipient "
    "transparent dependent independent consistent persistent efficient sufficient "
    "answer cluster poster banner trailer sticker converter parameter winner loser helper "
    "transmitter controller iterator emitter interpreter identifier integer "
    "cover power tower paper river silver dinner order offer matter butter "
    "mirror factor sector vector error actor "
    "calendar dollar pillar solar similar popular regular particular modular "
    "cellular circular golden hidden garden kitchen screen token "
    "browser chatter twitter flutter drawer tier barrier carrier "
    "bitcoin median "
)
